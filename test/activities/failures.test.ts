import { ApplicationFailure } from '@temporalio/common';
import { toActivityFailure } from '../../activities/failures';
import { BlobTransferError, DigestMismatchError } from '../../src/oci';

const EXPECTED = `sha256:${'ab'.repeat(32)}`;
const ACTUAL = `sha256:${'cd'.repeat(32)}`;

test('stored wrong content is not retried', () => {
  const mismatch = new DigestMismatchError('blob 127.0.0.1:5000/team/app', EXPECTED, ACTUAL);

  const failure = toActivityFailure(mismatch);

  expect(failure).toBeInstanceOf(ApplicationFailure);
  expect((failure as ApplicationFailure).nonRetryable).toBe(true);
  expect((failure as ApplicationFailure).type).toBe('DigestMismatchError');
});

test('content corrupted in transit stays retryable', () => {
  const mismatch = new DigestMismatchError('blob 127.0.0.1:5000/team/app', EXPECTED, ACTUAL);
  const transfer = new BlobTransferError(mismatch, 3);

  const failure = toActivityFailure(transfer);

  // Passed on unchanged, the error becomes a retryable failure of type BlobTransferError in the SDK.
  expect(failure).toBe(transfer);
  expect(transfer.name).toBe('BlobTransferError');
  expect(transfer.message).toContain(EXPECTED);
});
