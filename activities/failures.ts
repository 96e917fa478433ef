/** Turning registry errors into activity failures whose retry behaviour is decided here, once. */
import { ApplicationFailure } from '@temporalio/common';
import { BlobSizeMismatchError } from '../src/oci/blob';
import { DigestMismatchError, RegistryError, UnsupportedManifestError } from '../src/oci/errors';
import { InvalidDigestError } from '../src/oci/digest';
import { InvalidManifestError } from '../src/oci/manifest';
import { InvalidReferenceError } from '../src/oci/reference';

/**
 * Errors that the same request will hit again: malformed input, content that does not match its digest, a manifest
 * format the engine cannot copy. A RegistryError decides for itself through `retryable` (401/403/404 are not,
 * 429/5xx/broken connections are); AuthenticationError is a RegistryError that is never retryable.
 */
const PERMANENT_ERRORS = [
  InvalidReferenceError,
  InvalidDigestError,
  DigestMismatchError,
  UnsupportedManifestError,
  InvalidManifestError,
  BlobSizeMismatchError,
];

/**
 * Returns the error to throw from an activity: a non-retryable ApplicationFailure for errors that retrying cannot
 * fix, a retryable one for other registry errors, and anything else unchanged. The SDK retries an unchanged error,
 * and treats an abort after cancellation as the cancellation. The failure keeps the error's class name as its type
 * and its message, which names registry, repository and status but never credentials.
 */
export function toActivityFailure(error: unknown): unknown {
  if (!(error instanceof Error)) {
    return error;
  }
  const permanent = PERMANENT_ERRORS.some((type) => error instanceof type);
  if (permanent || (error instanceof RegistryError && !error.retryable)) {
    return ApplicationFailure.create({ type: error.name, message: error.message, nonRetryable: true });
  }
  if (error instanceof RegistryError) {
    return ApplicationFailure.create({ type: error.name, message: error.message, nonRetryable: false });
  }
  return error;
}

/** Runs `work` and converts what it throws with toActivityFailure. */
export async function withActivityFailures<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw toActivityFailure(error);
  }
}
