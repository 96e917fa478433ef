import { pipeline, type Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  blobExists,
  BlobSizeMismatchError,
  cancelUpload,
  getBlob,
  mountBlob,
  patchAndPutBlob,
  putBlob,
  startUpload,
  verifyingStream,
} from './blob';
import type { Descriptor } from './digest';
import { DigestMismatchError, RegistryError } from './errors';
import { blobProgress, type ProgressListener } from './progress';
import type { Reference } from './reference';
import type { Transport } from './transport';

/** The way a blob reached the destination. */
export type BlobOutcome = 'copied' | 'mounted' | 'skipped';

export interface BlobCopyOptions {
  /** `put`: one streamed PUT; `patch`: streamed PATCH, then PUT to commit. */
  uploadMethod: 'put' | 'patch';
  /** Attempts per streamed blob, the first included. */
  attempts: number;
  onProgress?: ProgressListener;
  signal: AbortSignal;
}

/** Connection failures of a streamed request; the request is restarted from a fresh GET. */
const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/**
 * Thrown when a blob's content did not match its digest on the last attempt of a copy, but was never wrong the same
 * way twice. That points at the transfer (a proxy or a faulty network path) rather than the stored blob, so copying
 * again may succeed, unlike after a DigestMismatchError.
 */
export class BlobTransferError extends Error {
  constructor(
    readonly mismatch: DigestMismatchError,
    readonly attempts: number,
  ) {
    super(
      `${mismatch.message}; the content was wrong in a different way on each attempt (${attempts}), ` +
        'so it was corrupted in transit and copying again may succeed',
      { cause: mismatch },
    );
    this.name = 'BlobTransferError';
  }
}

/**
 * Returns whether a failed blob copy may succeed when started again from a fresh GET. Content that does not match
 * its digest counts, because a byte flipped in transit is gone on the next GET; copyBlob stops when the same wrong
 * content comes back.
 */
export function isRetryableCopyError(error: unknown, signal: AbortSignal): boolean {
  if (signal.aborted || error instanceof BlobSizeMismatchError) {
    return false;
  }
  if (error instanceof DigestMismatchError) {
    return true;
  }
  if (error instanceof RegistryError) {
    return error.retryable;
  }
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && RETRYABLE_CODES.has(code);
}

/** Outcome of checking a blob: the destination has it, it was mounted, or it has to be uploaded. */
export type BlobPlan = { outcome: 'skipped' | 'mounted' } | { outcome: 'upload'; session?: string };

/**
 * Finds out with one request whether a blob has to be uploaded. Foreign layers (descriptors with `urls`) stay
 * where their URLs point. On the same registry the blob is mounted, which also covers a blob the destination has.
 * When the registry declines the mount, the plan carries the upload session it opened. Across registries a blob
 * the destination has is skipped.
 */
export async function planBlob(
  transport: Transport,
  src: Reference,
  dst: Reference,
  blob: Descriptor,
  options: Pick<BlobCopyOptions, 'onProgress' | 'signal'>,
): Promise<BlobPlan> {
  const { signal } = options;
  if (blob.urls !== undefined && blob.urls.length > 0) {
    options.onProgress?.({ kind: 'blob-skipped', digest: blob.digest, size: blob.size });
    return { outcome: 'skipped' };
  }

  if (src.registry === dst.registry) {
    const mount = await mountBlob(transport, dst, blob.digest, src, signal);
    if (mount.mounted) {
      options.onProgress?.({ kind: 'blob-mounted', digest: blob.digest, size: blob.size });
      return { outcome: 'mounted' };
    }
    return { outcome: 'upload', session: mount.uploadUrl };
  }
  if (await blobExists(transport, dst, blob.digest, signal)) {
    options.onProgress?.({ kind: 'blob-skipped', digest: blob.digest, size: blob.size });
    return { outcome: 'skipped' };
  }
  return { outcome: 'upload' };
}

/**
 * Streams one blob from `src` to `dst`, in `session` when the registry opened one, and restarts it from a fresh
 * GET after a failure that a new attempt can fix, up to `options.attempts` attempts in all.
 */
export async function uploadBlob(
  transport: Transport,
  src: Reference,
  dst: Reference,
  blob: Descriptor,
  session: string | undefined,
  options: BlobCopyOptions,
): Promise<void> {
  const { signal } = options;
  // Digests of wrong content seen so far. Content corrupted in transit differs from attempt to attempt; the same
  // wrong content twice is what the source stores, and no retry fixes that.
  const wrongDigests = new Set<string>();
  for (let attempt = 1; ; attempt += 1) {
    try {
      await streamBlob(transport, src, dst, blob, session, options);
      options.onProgress?.({ kind: 'blob-verified', digest: blob.digest, size: blob.size });
      return;
    } catch (error) {
      const mismatch = error instanceof DigestMismatchError ? error : undefined;
      if (mismatch && wrongDigests.has(mismatch.actual)) {
        throw mismatch;
      }
      if (mismatch) {
        wrongDigests.add(mismatch.actual);
      }
      if (attempt >= options.attempts || !isRetryableCopyError(error, signal)) {
        throw mismatch && !signal.aborted ? new BlobTransferError(mismatch, attempt) : error;
      }
      session = undefined;
      await sleep(200 * 2 ** (attempt - 1), undefined, { signal });
    }
  }
}

/**
 * Streams one blob: GET from the source piped through a verifier into the upload's PUT body, so memory
 * stays at a few chunks whatever the blob size. The GET and the upload session start together.
 */
async function streamBlob(
  transport: Transport,
  src: Reference,
  dst: Reference,
  blob: Descriptor,
  reusableSession: string | undefined,
  options: BlobCopyOptions,
): Promise<void> {
  const { signal } = options;
  const [opened, started] = await Promise.allSettled([
    getBlob(transport, src, blob.digest, signal),
    reusableSession === undefined ? startUpload(transport, dst, signal) : Promise.resolve(reusableSession),
  ]);
  if (opened.status === 'rejected' || started.status === 'rejected') {
    if (opened.status === 'fulfilled') {
      discardBody(opened.value.body);
    }
    if (started.status === 'fulfilled') {
      await cancelUpload(transport, dst, started.value);
    }
    throw opened.status === 'rejected' ? opened.reason : (started as PromiseRejectedResult).reason;
  }
  const { body, contentLength } = opened.value;
  const session = started.value;
  const subject = `blob ${src.name}@${blob.digest}`;
  if (contentLength !== undefined && contentLength !== blob.size) {
    discardBody(body);
    await cancelUpload(transport, dst, session);
    throw new BlobSizeMismatchError(subject, blob.digest, blob.size, contentLength, true);
  }

  const verified = verifyingStream(
    subject,
    blob.digest,
    blob.size,
    blobProgress(options.onProgress, blob.digest, blob.size),
  );
  // A corrupt blob fails the verifier first, and the PUT fails only as a consequence. Keeping the
  // verifier's error lets the caller see the wrong digest instead of an aborted request.
  let verificationError: Error | undefined;
  let sourceError: unknown;
  verified.once('error', (error) => {
    if (error instanceof DigestMismatchError || error instanceof BlobSizeMismatchError) {
      verificationError ??= error;
    }
  });
  body.once('error', (error) => {
    sourceError ??= error;
  });
  pipeline(body, verified, () => {
    // Errors of either stream are handled through the listeners above and the PUT's rejection.
  });

  const upload = options.uploadMethod === 'patch' ? patchAndPutBlob : putBlob;
  try {
    await upload(transport, dst, session, blob.digest, blob.size, verified, signal);
  } catch (error) {
    body.destroy();
    await cancelUpload(transport, dst, session);
    if (verificationError !== undefined) {
      throw verificationError;
    }
    if (error instanceof RegistryError && error.status !== undefined) {
      throw error;
    }
    throw sourceError ?? error;
  }
}

/**
 * Drops a response body that nothing will read. undici emits 'error' (RequestAbortedError) on a body destroyed
 * before its end, at least when the whole body had arrived, and an 'error' event without a listener ends the
 * process, so the listener comes first.
 */
function discardBody(body: Readable): void {
  body.on('error', () => undefined);
  body.destroy();
}
