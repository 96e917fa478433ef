/**
 * Activity stubs with their timeouts and retry policies. The activities are imported as a type only, so the
 * workflow bundle contains none of their code.
 */
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/types';

/**
 * Error types that retrying cannot fix. The activities already throw them as non-retryable failures. Listing them
 * here as well keeps the policy right if an activity lets one of these errors through unconverted.
 */
export const NON_RETRYABLE_ERROR_TYPES = [
  'InvalidReferenceError',
  'InvalidDigestError',
  'AuthenticationError',
  'DigestMismatchError',
  'UnsupportedManifestError',
  'InvalidManifestError',
  'BlobSizeMismatchError',
];

const retry = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '30 seconds',
  nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
};

/**
 * Heartbeat timeout of the short registry activities, which heartbeat every second while they run. A worker killed
 * in the middle of a tag move delays the retry by this long, not by the start-to-close timeout.
 */
const SHORT_ACTIVITY_HEARTBEAT_TIMEOUT = '10 seconds';

/**
 * Reads and tag moves during a promotion. Each takes a few requests, so one minute per attempt leaves room for
 * the transport's own retries. WAIT_CANCELLATION_COMPLETED makes a cancelled release wait until a tag move in
 * flight has finished, so the rollback that follows cannot be overtaken by a late PUT.
 */
export const registryActivities = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: SHORT_ACTIVITY_HEARTBEAT_TIMEOUT,
  retry: { ...retry, maximumAttempts: 8 },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

/**
 * The copy: an image may take long, so the attempt is bounded by heartbeats (a dead worker is noticed after 30 s)
 * rather than by a tight start-to-close timeout. A retry skips the blobs the previous attempt uploaded.
 */
export const copyActivities = proxyActivities<Activities>({
  startToCloseTimeout: '4 hours',
  heartbeatTimeout: '30 seconds',
  retry: { ...retry, maximumInterval: '1 minute', maximumAttempts: 10 },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

/**
 * Moving tags back after a failure. A rollback that gives up leaves an environment on a failed build, so these
 * retry for about an hour before the workflow reports the rollback as failed.
 */
export const compensationActivities = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: SHORT_ACTIVITY_HEARTBEAT_TIMEOUT,
  retry: { ...retry, initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: 70 },
});

/**
 * Lock requests and ledger reads talk to the Temporal server only, so transient failures are worth many retries.
 * A cancelled release waits for a lock request in flight to finish: withdrawing a request that has not arrived
 * yet would do nothing, and the late request would then be granted to a release that no longer wants it.
 */
export const lockActivities = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { ...retry, maximumAttempts: 20 },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

/**
 * Returns a stub for one hook. The hook's own timeout ends the command or request inside the activity, so the
 * activity's timeout only adds a margin for starting and reporting. A hook that ran and failed returns its
 * result instead of throwing, so retries happen only when the worker died or could not report. In that case a
 * hook runs twice.
 */
export function hookActivities(hookTimeoutMs: number): Pick<Activities, 'runHook'> {
  return proxyActivities<Activities>({
    startToCloseTimeout: hookTimeoutMs + 60_000,
    heartbeatTimeout: '30 seconds',
    retry: { ...retry, maximumAttempts: 3 },
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
}
