import { randomBytes } from 'node:crypto';
import { gzipLayer, gzipLayerBytes, type LayerFile } from './layers';
import { serializeManifest, type ManifestStyle } from './manifest-style';
import { hostOf, pushBlob, pushBlobStream, pushManifest, type RegistryTarget, sha256 } from './registry-push';

// Builds real images and pushes them with fetch and node:http, apart from the registry client under
// test, so tests and benchmarks check that client against content written by independent means.

export type { LayerFile } from './layers';
export type { ManifestStyle } from './manifest-style';
export { pushBlob, pushBlobStream, pushManifest, type RegistryTarget } from './registry-push';

export const OCI = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  foreignLayer: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
} as const;

export const DOCKER = {
  manifest: 'application/vnd.docker.distribution.manifest.v2+json',
  index: 'application/vnd.docker.distribution.manifest.list.v2+json',
  config: 'application/vnd.docker.container.image.v1+json',
  layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  foreignLayer: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

const IN_TOTO = 'application/vnd.in-toto+json';
const CREATED = '2024-01-01T00:00:00Z';

export interface BlobDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: PlatformSpec;
}

export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
}

/** One layer: files, random content generated while it streams, or a foreign layer that is not uploaded. */
export type LayerSpec =
  { files: LayerFile[] } | { randomBytes: number; path?: string } | { foreign: { size: number; urls: string[] } };

export interface ImageSpec {
  /** Media types of the manifest, config and layers; default `oci`. */
  format?: 'oci' | 'docker';
  /** Default linux/amd64. */
  platform?: PlatformSpec;
  layers: LayerSpec[];
  /** Extra fields of the config's `config` object, such as `{ Cmd: ['/app'] }`. */
  config?: Record<string, unknown>;
  annotations?: Record<string, string>;
  /** Serialisation style of the manifest JSON; default `compact`. */
  style?: ManifestStyle;
}

/** A manifest as pushed: its exact bytes, the blobs it references directly and its child manifests. */
export interface PushedManifest {
  digest: string;
  mediaType: string;
  size: number;
  bytes: Buffer;
  /** `host/repository@digest`. */
  reference: string;
  /** Config and layers of an image manifest; empty for an index. */
  blobs: BlobDescriptor[];
  children: PushedManifest[];
  /** Platform of this manifest's entry in a parent index. */
  platform?: PlatformSpec;
  annotations?: Record<string, string>;
}

async function pushLayer(
  target: RegistryTarget,
  repository: string,
  layer: LayerSpec,
  mediaTypes: typeof OCI | typeof DOCKER,
): Promise<{ descriptor: BlobDescriptor; diffId: string; uploaded: boolean }> {
  if ('foreign' in layer) {
    const digest = sha256(randomBytes(32));
    const descriptor = {
      mediaType: mediaTypes.foreignLayer,
      digest,
      size: layer.foreign.size,
      urls: layer.foreign.urls,
    };
    return { descriptor, diffId: sha256(randomBytes(32)), uploaded: false };
  }
  if ('files' in layer) {
    const { bytes, diffId, digest } = await gzipLayerBytes(layer.files);
    await pushBlob(target, repository, bytes);
    return { descriptor: { mediaType: mediaTypes.layer, digest, size: bytes.length }, diffId, uploaded: true };
  }
  const { stream, digests } = gzipLayer([], [{ path: layer.path ?? 'data/random.bin', size: layer.randomBytes }], 0);
  await pushBlobStream(target, repository, stream, async () => (await digests).digest);
  const { diffId, digest, size } = await digests;
  return { descriptor: { mediaType: mediaTypes.layer, digest, size }, diffId, uploaded: true };
}

/** Builds an image (layers, config with rootfs.diff_ids and platform, manifest) and pushes it. */
export async function pushImage(
  target: RegistryTarget,
  repository: string,
  spec: ImageSpec,
  tag?: string,
): Promise<PushedManifest> {
  const mediaTypes = spec.format === 'docker' ? DOCKER : OCI;
  const platform = spec.platform ?? { os: 'linux', architecture: 'amd64' };
  const layers = [];
  for (const layer of spec.layers) {
    layers.push(await pushLayer(target, repository, layer, mediaTypes));
  }

  const configJson = {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    created: CREATED,
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], ...spec.config },
    rootfs: { type: 'layers', diff_ids: layers.map((layer) => layer.diffId) },
    history: layers.map(() => ({ created: CREATED, created_by: 'scripts/lib/images.ts' })),
  };
  const configBytes = Buffer.from(JSON.stringify(configJson));
  const configDigest = await pushBlob(target, repository, configBytes);
  const config = { mediaType: mediaTypes.config, digest: configDigest, size: configBytes.length };

  const manifest = {
    schemaVersion: 2,
    mediaType: mediaTypes.manifest,
    config,
    layers: layers.map((layer) => layer.descriptor),
    ...(spec.annotations ? { annotations: spec.annotations } : {}),
  };
  const bytes = serializeManifest(manifest, spec.style ?? 'compact');
  const digest = await pushManifest(target, repository, bytes, mediaTypes.manifest, tag);
  return {
    digest,
    mediaType: mediaTypes.manifest,
    size: bytes.length,
    bytes,
    reference: `${hostOf(target)}/${repository}@${digest}`,
    blobs: [config, ...layers.map((layer) => layer.descriptor)],
    children: [],
    platform,
  };
}

/**
 * Pushes an attestation manifest for `image` the way BuildKit does: an OCI manifest with an in-toto
 * layer, listed in the index with platform unknown/unknown and `vnd.docker.reference.*` annotations.
 */
export async function pushAttestation(
  target: RegistryTarget,
  repository: string,
  image: PushedManifest,
): Promise<PushedManifest> {
  const statement = {
    _type: 'https://in-toto.io/Statement/v0.1',
    predicateType: 'https://spdx.dev/Document',
    subject: [{ name: `pkg:docker/${repository}`, digest: { sha256: image.digest.slice('sha256:'.length) } }],
    predicate: { spdxVersion: 'SPDX-2.3', name: 'sbom', packages: [] },
  };
  const statementBytes = Buffer.from(JSON.stringify(statement, null, 2));
  const layerDigest = await pushBlob(target, repository, statementBytes);
  const layer = {
    mediaType: IN_TOTO,
    digest: layerDigest,
    size: statementBytes.length,
    annotations: { 'in-toto.io/predicate-type': 'https://spdx.dev/Document' },
  };
  const configBytes = Buffer.from(
    JSON.stringify({
      architecture: 'unknown',
      os: 'unknown',
      config: {},
      rootfs: { type: 'layers', diff_ids: [layerDigest] },
    }),
  );
  const configDigest = await pushBlob(target, repository, configBytes);
  const config = { mediaType: OCI.config, digest: configDigest, size: configBytes.length };

  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI.manifest, config, layers: [layer] }));
  const digest = await pushManifest(target, repository, bytes, OCI.manifest);
  return {
    digest,
    mediaType: OCI.manifest,
    size: bytes.length,
    bytes,
    reference: `${hostOf(target)}/${repository}@${digest}`,
    blobs: [config, layer],
    children: [],
    platform: { os: 'unknown', architecture: 'unknown' },
    annotations: { 'vnd.docker.reference.digest': image.digest, 'vnd.docker.reference.type': 'attestation-manifest' },
  };
}

/** Pushes an index (OCI) or manifest list (Docker) over manifests already in the repository. */
export async function pushIndex(
  target: RegistryTarget,
  repository: string,
  children: PushedManifest[],
  options: {
    format?: 'oci' | 'docker';
    tag?: string;
    style?: ManifestStyle;
    annotations?: Record<string, string>;
  } = {},
): Promise<PushedManifest> {
  const mediaType = options.format === 'docker' ? DOCKER.index : OCI.index;
  const index = {
    schemaVersion: 2,
    mediaType,
    manifests: children.map((child) => ({
      mediaType: child.mediaType,
      digest: child.digest,
      size: child.size,
      ...(child.platform ? { platform: child.platform } : {}),
      ...(child.annotations ? { annotations: child.annotations } : {}),
    })),
    ...(options.annotations ? { annotations: options.annotations } : {}),
  };
  const bytes = serializeManifest(index, options.style ?? 'compact');
  const digest = await pushManifest(target, repository, bytes, mediaType, options.tag);
  return {
    digest,
    mediaType,
    size: bytes.length,
    bytes,
    reference: `${hostOf(target)}/${repository}@${digest}`,
    blobs: [],
    children,
  };
}

/**
 * Pushes a linux/amd64 and a linux/arm64/v8 image, each with an attestation manifest unless
 * `attestations` is false (the default for Docker media types), and an index over them.
 */
export async function pushMultiPlatformImage(
  target: RegistryTarget,
  repository: string,
  options: { format?: 'oci' | 'docker'; tag?: string; attestations?: boolean; style?: ManifestStyle } = {},
): Promise<PushedManifest> {
  const format = options.format ?? 'oci';
  const platforms: PlatformSpec[] = [
    { os: 'linux', architecture: 'amd64' },
    { os: 'linux', architecture: 'arm64', variant: 'v8' },
  ];
  const shared: LayerSpec = { files: [{ path: 'etc/os-release', content: 'ID=promoter-test\n' }] };
  const children: PushedManifest[] = [];
  const attestations: PushedManifest[] = [];
  for (const platform of platforms) {
    const own: LayerSpec = {
      files: [{ path: `app/${platform.architecture}`, content: `binary for ${platform.architecture}\n`, mode: 0o755 }],
    };
    const image = await pushImage(target, repository, {
      format,
      platform,
      layers: [shared, own],
      style: options.style,
    });
    children.push(image);
    if (options.attestations ?? format === 'oci') {
      attestations.push(await pushAttestation(target, repository, image));
    }
  }
  return pushIndex(target, repository, [...children, ...attestations], {
    format,
    tag: options.tag,
    style: options.style,
  });
}

/** Returns the manifest and all its descendants, parents before children. */
export function allManifests(root: PushedManifest): PushedManifest[] {
  return [root, ...root.children.flatMap((child) => allManifests(child))];
}

/** Returns every blob the graph references, each digest once, foreign layers included. */
export function allBlobs(root: PushedManifest): BlobDescriptor[] {
  const byDigest = new Map<string, BlobDescriptor>();
  for (const manifest of allManifests(root)) {
    for (const blob of manifest.blobs) {
      byDigest.set(blob.digest, blob);
    }
  }
  return [...byDigest.values()];
}
