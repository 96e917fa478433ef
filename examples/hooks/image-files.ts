/**
 * Reads one file out of an image in a registry: the image manifest's layers are streamed top layer first,
 * decompressed and scanned as tar archives until the file, or a whiteout that deletes it, turns up. Blob bytes
 * are verified against their digests while they stream (RegistryClient.openBlob).
 */
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { RegistryClient } from '../../src/oci/client';
import type { Descriptor } from '../../src/oci/digest';
import { parseManifestContent } from '../../src/oci/manifest';
import { ATTESTATION_REFERENCE_TYPE, isIndexMediaType, MediaType } from '../../src/oci/media-types';
import { Reference } from '../../src/oci/reference';
import { readTarFile } from './tar';

/** A file found in an image, with the layer that contains its topmost version. */
export interface ImageFile {
  /** Digest of the image manifest the file was read from (a child of the index for a multi-platform image). */
  manifestDigest: string;
  layerDigest: string;
  content: Buffer;
}

/** Thrown when the image cannot be read: no manifest for the platform, or a layer compression that is not read here. */
export class ImageReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageReadError';
  }
}

/**
 * Returns the file at `path` in the image `reference` (by tag or digest), or undefined when no layer has it or the
 * topmost layer that names it deletes it. For an index, reads the manifest of `platform` (`os/architecture`).
 */
export async function readImageFile(
  registry: RegistryClient,
  reference: Reference,
  path: string,
  platform = 'linux/amd64',
): Promise<ImageFile | undefined> {
  const image = await imageManifest(registry, reference, platform);
  const wanted = normalisePath(path);
  for (const layer of [...image.layers].reverse()) {
    const stream = await openLayer(registry, reference, layer);
    const found = await readTarFile(stream, wanted);
    stream.destroy();
    if (found === 'deleted') {
      return undefined;
    }
    if (found !== undefined) {
      return { manifestDigest: image.digest, layerDigest: layer.digest, content: found };
    }
  }
  return undefined;
}

/** Strips `./` and `/` from the front, so `/app/x`, `./app/x` and `app/x` name the same entry. */
export function normalisePath(path: string): string {
  return path.replace(/^(\.?\/)+/, '');
}

async function imageManifest(
  registry: RegistryClient,
  reference: Reference,
  platform: string,
): Promise<{ digest: string; layers: Descriptor[] }> {
  const fetched = await registry.fetchManifest(reference);
  const content = parseManifestContent(reference, fetched);
  if (content.kind === 'image') {
    return { digest: fetched.descriptor.digest, layers: content.layers };
  }
  if (!isIndexMediaType(fetched.descriptor.mediaType)) {
    throw new ImageReadError(`${reference.toString()} is neither an image nor an index`);
  }

  const [os, architecture] = platform.split('/');
  const child = content.manifests.find(
    (entry) =>
      entry.platform?.os === os &&
      entry.platform?.architecture === architecture &&
      entry.annotations?.[ATTESTATION_REFERENCE_TYPE] === undefined,
  );
  if (child === undefined) {
    const platforms = content.manifests.map((entry) => `${entry.platform?.os}/${entry.platform?.architecture}`);
    throw new ImageReadError(
      `${reference.toString()} has no manifest for ${platform}; it has ${platforms.join(', ')}. Pick one with --platform`,
    );
  }
  return imageManifest(registry, reference.withDigest(child.digest), platform);
}

async function openLayer(registry: RegistryClient, reference: Reference, layer: Descriptor): Promise<Readable> {
  const repository = reference.withoutIdentifier();
  const blob = await registry.openBlob(repository, layer.digest, undefined, layer.size);
  if (layer.mediaType === MediaType.ociLayer) {
    return blob;
  }
  if (layer.mediaType === MediaType.ociLayerGzip || layer.mediaType === MediaType.dockerLayerGzip) {
    return blob.pipe(createGunzip());
  }
  blob.destroy();
  throw new ImageReadError(
    `layer ${layer.digest} of ${reference.toString()} has media type ${layer.mediaType}; ` +
      'expected an uncompressed or gzip tar layer',
  );
}
