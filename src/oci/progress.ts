import type { Digest } from './digest';

/**
 * Progress of a copy, per blob and manifest.
 * - `blob-skipped`: the destination had the blob, or it is a foreign layer that stays at its URLs.
 * - `blob-mounted`: linked from the source repository without upload.
 * - `blob-verified`: uploaded, and its digest checked.
 * - `blob-progress`: bytes streamed so far.
 * - `manifest-pushed`: a manifest was written to the destination.
 */
export type ProgressEvent =
  | { kind: 'blob-skipped' | 'blob-mounted' | 'blob-verified'; digest: Digest; size: number }
  | { kind: 'blob-progress'; digest: Digest; done: number; total: number }
  | { kind: 'manifest-pushed'; digest: Digest; mediaType: string };

export type ProgressListener = (event: ProgressEvent) => void;

/** Bytes between two `blob-progress` events of one blob, so a listener gets ~1 call per MiB, not per chunk. */
export const PROGRESS_STEP_BYTES = 1024 * 1024;

/** Returns a byte counter for one blob that reports to `listener` every PROGRESS_STEP_BYTES and at the end. */
export function blobProgress(
  listener: ProgressListener | undefined,
  digest: Digest,
  total: number,
): (done: number) => void {
  let reported = 0;
  return (done) => {
    if (listener !== undefined && (done - reported >= PROGRESS_STEP_BYTES || done === total)) {
      reported = done;
      listener({ kind: 'blob-progress', digest, done, total });
    }
  };
}
