import { pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';
import { type Digest, DigestVerifier } from './digest';
import { DigestMismatchError } from './errors';
import { headerValue } from './response';
import type { Reference } from './reference';
import type { Transport } from './transport';

/** Thrown when a blob's byte count differs from the size its descriptor states. */
export class BlobSizeMismatchError extends Error {
  constructor(
    readonly subject: string,
    readonly digest: Digest,
    readonly expected: number,
    readonly actual: number,
    readonly complete: boolean,
  ) {
    super(
      `${subject}: content is ${complete ? '' : 'at least '}${actual} bytes, expected ${expected} for ${digest}; ` +
        'the content was rejected',
    );
    this.name = 'BlobSizeMismatchError';
  }
}

function blobPath(repository: string, digest: Digest): string {
  return `/v2/${repository}/blobs/${digest}`;
}

/** Returns whether the repository has the blob (HEAD 200) or not (404). */
export async function blobExists(
  transport: Transport,
  repo: Reference,
  digest: Digest,
  signal?: AbortSignal,
): Promise<boolean> {
  const response = await transport.request({
    method: 'HEAD',
    registry: repo.registry,
    repository: repo.repository,
    path: blobPath(repo.repository, digest),
    actions: ['pull'],
    expect: [200, 404],
    signal,
  });
  await response.body.dump();
  return response.status === 200;
}

/** The outcome of a mount request: done, or an upload session the registry opened instead. */
export type MountResult = { mounted: true } | { mounted: false; uploadUrl: string };

/**
 * Asks the registry to link a blob from another repository on the same registry into `repo`
 * (`POST ?mount=&from=`). 201 means done; a registry that cannot mount returns 202 with an upload
 * session, which the caller uses for a normal upload.
 */
export async function mountBlob(
  transport: Transport,
  repo: Reference,
  digest: Digest,
  from: Reference,
  signal?: AbortSignal,
): Promise<MountResult> {
  const response = await transport.request({
    method: 'POST',
    registry: repo.registry,
    repository: repo.repository,
    path: `/v2/${repo.repository}/blobs/uploads/`,
    query: { mount: digest, from: from.repository },
    headers: { 'content-length': '0' },
    actions: ['pull', 'push'],
    extraPullScopes: [from.repository],
    expect: [201, 202],
    signal,
  });
  await response.body.dump();
  if (response.status === 201) {
    return { mounted: true };
  }
  return { mounted: false, uploadUrl: uploadLocation(response.headers, repo) };
}

function uploadLocation(headers: Record<string, string | string[] | undefined>, repo: Reference): string {
  const location = headerValue(headers, 'location');
  if (location === undefined || location === '') {
    throw new Error(`registry ${repo.registry} opened an upload session for ${repo.name} without a Location header`);
  }
  return location;
}

/** Opens an upload session (`POST /blobs/uploads/`) and returns its URL. */
export async function startUpload(transport: Transport, repo: Reference, signal?: AbortSignal): Promise<string> {
  const response = await transport.request({
    method: 'POST',
    registry: repo.registry,
    repository: repo.repository,
    path: `/v2/${repo.repository}/blobs/uploads/`,
    headers: { 'content-length': '0' },
    actions: ['pull', 'push'],
    expect: [202],
    signal,
  });
  await response.body.dump();
  return uploadLocation(response.headers, repo);
}

/** Cancels an upload session so the registry can drop its partial data; failures are ignored. */
export async function cancelUpload(transport: Transport, repo: Reference, uploadUrl: string): Promise<void> {
  try {
    const response = await transport.request({
      method: 'DELETE',
      registry: repo.registry,
      repository: repo.repository,
      path: uploadUrl,
      actions: ['pull', 'push'],
      expect: [204, 200, 404],
    });
    await response.body.dump();
  } catch {
    // The registry expires abandoned sessions itself; a failed cancel leaves nothing visible.
  }
}

/** GETs a blob and returns its unverified body; see verifyingStream. */
export async function getBlob(
  transport: Transport,
  repo: Reference,
  digest: Digest,
  signal?: AbortSignal,
): Promise<{ body: Readable; contentLength?: number }> {
  const response = await transport.request({
    method: 'GET',
    registry: repo.registry,
    repository: repo.repository,
    path: blobPath(repo.repository, digest),
    actions: ['pull'],
    expect: [200],
    signal,
  });
  const length = Number(headerValue(response.headers, 'content-length'));
  return { body: response.body, contentLength: Number.isSafeInteger(length) ? length : undefined };
}

/**
 * Returns a pass-through stream that hashes what flows through it and checks digest and size. It
 * holds back the last chunk until the check passes, so a consumer that counts on `size` bytes (a PUT
 * with Content-Length) never receives the complete content of a corrupt blob.
 */
export function verifyingStream(
  subject: string,
  digest: Digest,
  size: number,
  onBytes?: (done: number) => void,
): Transform {
  const verifier = new DigestVerifier(digest);
  let heldChunk: Buffer | undefined;

  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      verifier.update(chunk);
      if (verifier.size > size) {
        callback(new BlobSizeMismatchError(subject, digest, size, verifier.size, false));
        return;
      }
      if (heldChunk !== undefined) {
        this.push(heldChunk);
      }
      heldChunk = chunk;
      onBytes?.(verifier.size);
      callback();
    },
    flush(callback: TransformCallback) {
      if (verifier.size !== size) {
        callback(new BlobSizeMismatchError(subject, digest, size, verifier.size, true));
        return;
      }
      const actual = verifier.finish();
      if (actual !== digest) {
        callback(new DigestMismatchError(subject, digest, actual));
        return;
      }
      callback(null, heldChunk);
    },
  });
}

/** GETs a blob and returns a stream of it that fails with DigestMismatchError when the content is wrong. */
export async function openVerifiedBlob(
  transport: Transport,
  repo: Reference,
  digest: Digest,
  size: number,
  signal?: AbortSignal,
): Promise<Readable> {
  const { body } = await getBlob(transport, repo, digest, signal);
  const verified = verifyingStream(`blob ${repo.name}@${digest}`, digest, size);
  pipeline(body, verified, () => {
    // pipeline destroys `verified` with the error, which is where the reader sees it.
  });
  return verified;
}

/**
 * Finishes an upload with one streamed PUT of the whole blob (`PUT <session>?digest=`), and checks
 * the digest the registry stored it under. The body must end with an error, not its last byte, when
 * the content is wrong; verifyingStream does that.
 */
export async function putBlob(
  transport: Transport,
  repo: Reference,
  uploadUrl: string,
  digest: Digest,
  size: number,
  body: Readable,
  signal?: AbortSignal,
): Promise<void> {
  const response = await transport.request({
    method: 'PUT',
    registry: repo.registry,
    repository: repo.repository,
    path: uploadUrl,
    query: { digest },
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
    body,
    actions: ['pull', 'push'],
    expect: [201],
    signal,
  });
  await response.body.dump();
  checkStoredDigest(response.headers, repo, digest);
}

/**
 * Uploads the blob with one streamed PATCH and a PUT without body that commits it, for registries that
 * accept no body on the final PUT. Distribution 2.8 rejects a PATCH whose Content-Type is not
 * `application/octet-stream`.
 */
export async function patchAndPutBlob(
  transport: Transport,
  repo: Reference,
  uploadUrl: string,
  digest: Digest,
  size: number,
  body: Readable,
  signal?: AbortSignal,
): Promise<void> {
  const patched = await transport.request({
    method: 'PATCH',
    registry: repo.registry,
    repository: repo.repository,
    path: uploadUrl,
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
    body,
    actions: ['pull', 'push'],
    expect: [202],
    signal,
  });
  await patched.body.dump();

  const committed = await transport.request({
    method: 'PUT',
    registry: repo.registry,
    repository: repo.repository,
    path: uploadLocation(patched.headers, repo),
    query: { digest },
    headers: { 'content-length': '0' },
    actions: ['pull', 'push'],
    expect: [201],
    signal,
  });
  await committed.body.dump();
  checkStoredDigest(committed.headers, repo, digest);
}

function checkStoredDigest(
  headers: Record<string, string | string[] | undefined>,
  repo: Reference,
  digest: Digest,
): void {
  const stored = headerValue(headers, 'docker-content-digest');
  if (stored !== undefined && stored !== digest) {
    throw new DigestMismatchError(`blob pushed to ${repo.name}`, digest, stored);
  }
}
