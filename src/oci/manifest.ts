import { type Descriptor, type Digest, digestWithAlgorithmOf, isDigest, parseDigest, sha256 } from './digest';
import { DigestMismatchError, UnsupportedManifestError } from './errors';
import { headerValue, readLimited } from './response';
import {
  baseMediaType,
  isImageManifestMediaType,
  isIndexMediaType,
  isSchema1MediaType,
  MANIFEST_ACCEPT,
  MediaType,
} from './media-types';
import type { Reference } from './reference';
import type { RegistryResponse, Transport } from './transport';

/** Registries reject manifests over 4 MiB (Distribution's limit), so a larger body is not a manifest worth reading. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** Thrown when manifest bytes are not the JSON their media type requires. */
export class InvalidManifestError extends Error {
  constructor(
    readonly reference: string,
    readonly reason: string,
  ) {
    super(`manifest ${reference} is invalid: ${reason}`);
    this.name = 'InvalidManifestError';
  }
}

/** A manifest's exact bytes with the descriptor that names them. */
export interface FetchedManifest {
  descriptor: Descriptor;
  bytes: Buffer;
}

/** The descriptors a manifest points at: the children of an index, or the config and layers of an image. */
export type ManifestContent =
  { kind: 'index'; manifests: Descriptor[] } | { kind: 'image'; config?: Descriptor; layers: Descriptor[] };

function manifestPath(ref: Reference): string {
  return `/v2/${ref.repository}/manifests/${ref.identifier}`;
}

function rejectSchema1(ref: Reference, mediaType: string): void {
  if (isSchema1MediaType(mediaType) || mediaType === 'schema1') {
    throw new UnsupportedManifestError(
      ref.toString(),
      mediaType === 'schema1' ? MediaType.dockerSchema1 : mediaType,
      'Docker schema 1 manifests are deprecated and their digest covers a signature that changes when copied; ' +
        'rebuild or re-push the image with a current Docker or BuildKit',
    );
  }
}

/** Sends HEAD for a manifest with the full Accept list and discards the (empty) body. */
async function sendManifestHead(
  transport: Transport,
  ref: Reference,
  expect: number[],
  signal?: AbortSignal,
): Promise<RegistryResponse> {
  const response = await transport.request({
    method: 'HEAD',
    registry: ref.registry,
    repository: ref.repository,
    path: manifestPath(ref),
    headers: { accept: MANIFEST_ACCEPT },
    actions: ['pull'],
    expect,
    signal,
  });
  await response.body.dump();
  return response;
}

/**
 * Sends HEAD for a manifest and returns its descriptor, or undefined when the response has no usable
 * digest or media type, so the caller must GET. Throws RegistryError for 404 and other errors.
 */
export async function headManifest(
  transport: Transport,
  ref: Reference,
  signal?: AbortSignal,
): Promise<Descriptor | undefined> {
  const response = await sendManifestHead(transport, ref, [200], signal);

  const mediaType = baseMediaType(headerValue(response.headers, 'content-type') ?? '');
  rejectSchema1(ref, mediaType);
  const digest = headerValue(response.headers, 'docker-content-digest');
  const size = Number(headerValue(response.headers, 'content-length'));
  const known = isIndexMediaType(mediaType) || isImageManifestMediaType(mediaType);
  if (!known || digest === undefined || !isDigest(digest) || !Number.isSafeInteger(size) || size <= 0) {
    return undefined;
  }
  if (ref.digest !== undefined && digest !== ref.digest) {
    throw new DigestMismatchError(`manifest ${ref.toString()}`, ref.digest, digest);
  }
  return { mediaType, digest, size };
}

/**
 * Returns the digest a tag points at, or undefined when the tag does not exist. Uses HEAD and falls
 * back to GET when the registry sends no digest header.
 */
export async function getTagDigest(
  transport: Transport,
  ref: Reference,
  signal?: AbortSignal,
): Promise<Digest | undefined> {
  const response = await sendManifestHead(transport, ref, [200, 404], signal);
  if (response.status === 404) {
    return undefined;
  }
  const digest = headerValue(response.headers, 'docker-content-digest');
  if (digest !== undefined && isDigest(digest)) {
    return digest;
  }
  return (await getManifest(transport, ref, signal)).descriptor.digest;
}

/**
 * GETs a manifest's bytes. Verifies them against the reference's digest when it has one, and against
 * `Docker-Content-Digest` when the registry sends it. Rejects schema 1.
 */
export async function getManifest(
  transport: Transport,
  ref: Reference,
  signal?: AbortSignal,
): Promise<FetchedManifest> {
  const response = await transport.request({
    method: 'GET',
    registry: ref.registry,
    repository: ref.repository,
    path: manifestPath(ref),
    headers: { accept: MANIFEST_ACCEPT },
    actions: ['pull'],
    expect: [200],
    signal,
  });
  const bytes = await readLimited(response.body, MAX_MANIFEST_BYTES, `manifest ${ref.toString()}`);

  const mediaType = manifestMediaType(ref, bytes, headerValue(response.headers, 'content-type'));
  const header = headerValue(response.headers, 'docker-content-digest');
  const expected = ref.digest ?? (header !== undefined && isDigest(header) ? header : undefined);
  const digest = expected === undefined ? sha256(bytes) : digestWithAlgorithmOf(expected, bytes);
  if (expected !== undefined && digest !== expected) {
    throw new DigestMismatchError(`manifest ${ref.toString()}`, expected, digest);
  }
  if (ref.digest !== undefined && header !== undefined && header !== ref.digest) {
    throw new DigestMismatchError(`manifest ${ref.toString()} (Docker-Content-Digest header)`, ref.digest, header);
  }
  return { descriptor: { mediaType, digest, size: bytes.length }, bytes };
}

/** Resolves a reference to its manifest descriptor with HEAD, falling back to GET when HEAD gives too little. */
export async function resolveManifest(transport: Transport, ref: Reference, signal?: AbortSignal): Promise<Descriptor> {
  const descriptor = await headManifest(transport, ref, signal);
  if (descriptor !== undefined) {
    return descriptor;
  }
  return (await getManifest(transport, ref, signal)).descriptor;
}

/**
 * PUTs manifest bytes unchanged under `ref.identifier` (a tag or the digest) with their media type,
 * and checks that the registry stored them under the same digest.
 */
export async function putManifest(
  transport: Transport,
  ref: Reference,
  manifest: FetchedManifest,
  signal?: AbortSignal,
): Promise<Descriptor> {
  const { descriptor, bytes } = manifest;
  const response = await transport.request({
    method: 'PUT',
    registry: ref.registry,
    repository: ref.repository,
    path: manifestPath(ref),
    headers: { 'content-type': descriptor.mediaType },
    body: bytes,
    actions: ['pull', 'push'],
    expect: [201],
    signal,
  });
  await response.body.dump();

  const stored = headerValue(response.headers, 'docker-content-digest');
  if (stored !== undefined && stored !== descriptor.digest) {
    throw new DigestMismatchError(`manifest pushed to ${ref.toString()}`, descriptor.digest, stored);
  }
  return descriptor;
}

/** Returns whether the repository of `ref` has the manifest with `digest`. */
export async function manifestExists(
  transport: Transport,
  ref: Reference,
  digest: Digest,
  signal?: AbortSignal,
): Promise<boolean> {
  const response = await transport.request({
    method: 'HEAD',
    registry: ref.registry,
    repository: ref.repository,
    path: `/v2/${ref.repository}/manifests/${digest}`,
    headers: { accept: MANIFEST_ACCEPT },
    actions: ['pull'],
    expect: [200, 404],
    signal,
  });
  await response.body.dump();
  return response.status === 200;
}

/**
 * Decides a GET response's media type: the Content-Type header when it names a manifest type, else
 * the manifest's own `mediaType` field, else the shape of the JSON (OCI allows omitting the field).
 */
function manifestMediaType(ref: Reference, bytes: Buffer, contentType: string | undefined): string {
  const header = baseMediaType(contentType ?? '');
  rejectSchema1(ref, header);
  if (isIndexMediaType(header) || isImageManifestMediaType(header)) {
    return header;
  }
  const json = parseJson(ref, bytes);
  if (json.schemaVersion === 1) {
    rejectSchema1(ref, 'schema1');
  }
  if (typeof json.mediaType === 'string') {
    rejectSchema1(ref, json.mediaType);
    return json.mediaType;
  }
  if (Array.isArray(json.manifests)) {
    return MediaType.ociIndex;
  }
  if (json.config !== undefined && Array.isArray(json.layers)) {
    return MediaType.ociManifest;
  }
  throw new UnsupportedManifestError(
    ref.toString(),
    header || '(none)',
    'the Content-Type is not a manifest type and the JSON has neither mediaType, manifests nor config and layers',
  );
}

function parseJson(ref: Reference, bytes: Buffer): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new InvalidManifestError(ref.toString(), `it is not JSON (${(error as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new InvalidManifestError(ref.toString(), 'it is not a JSON object');
  }
  return json as Record<string, unknown>;
}

function parseDescriptor(ref: Reference, value: unknown, where: string): Descriptor {
  const entry = (value ?? {}) as Record<string, unknown>;
  if (typeof entry.mediaType !== 'string' || typeof entry.digest !== 'string') {
    throw new InvalidManifestError(ref.toString(), `${where} needs a string mediaType and digest`);
  }
  if (typeof entry.size !== 'number' || !Number.isSafeInteger(entry.size) || entry.size < 0) {
    throw new InvalidManifestError(ref.toString(), `${where} needs a non-negative integer size`);
  }
  let digest: Digest;
  try {
    digest = parseDigest(entry.digest);
  } catch (error) {
    throw new InvalidManifestError(ref.toString(), `${where}: ${(error as Error).message}`);
  }
  return { ...entry, mediaType: entry.mediaType, digest, size: entry.size };
}

function parseDescriptors(ref: Reference, value: unknown, field: string): Descriptor[] {
  if (value === undefined) {
    return [];
  }
  if (!Array.isArray(value)) {
    throw new InvalidManifestError(ref.toString(), `${field} must be an array`);
  }
  return value.map((entry, i) => parseDescriptor(ref, entry, `${field}[${i}]`));
}

/** Reads the `manifests` of an index's bytes; `ref` names the index in errors. */
export function parseIndexManifests(ref: Reference, bytes: Buffer): Descriptor[] {
  return parseDescriptors(ref, parseJson(ref, bytes).manifests, 'manifests');
}

/** Reads the descriptors a manifest points at; `ref` names the manifest in errors. */
export function parseManifestContent(ref: Reference, manifest: FetchedManifest): ManifestContent {
  const json = parseJson(ref, manifest.bytes);
  const { mediaType } = manifest.descriptor;
  if (isIndexMediaType(mediaType)) {
    return { kind: 'index', manifests: parseDescriptors(ref, json.manifests, 'manifests') };
  }
  if (mediaType === MediaType.ociArtifactManifest) {
    return { kind: 'image', layers: parseDescriptors(ref, json.blobs, 'blobs') };
  }
  if (isImageManifestMediaType(mediaType)) {
    const config = json.config === undefined ? undefined : parseDescriptor(ref, json.config, 'config');
    return { kind: 'image', config, layers: parseDescriptors(ref, json.layers, 'layers') };
  }
  rejectSchema1(ref, mediaType);
  throw new UnsupportedManifestError(ref.toString(), mediaType, 'it is neither an image manifest nor an index');
}
