/** Whether any worker polls a task queue, as the Temporal server saw it. */
import { type Client } from '@temporalio/client';

/** `TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW` of the Temporal API (temporal/api/enums/v1/task_queue.proto). */
const TASK_QUEUE_TYPE_WORKFLOW = 1;
/** `TaskQueueKind.TASK_QUEUE_KIND_NORMAL` of the Temporal API (temporal/api/enums/v1/task_queue.proto). */
const TASK_QUEUE_KIND_NORMAL = 1;

/**
 * Age below which a poller counts as a running worker. The server records a poller when a
 * long poll starts and when it ends, and a long poll of an idle worker lasts up to a minute
 * (`matching.longPollExpirationInterval`, server 1.29). A stopped worker stays in the server's list for five
 * minutes (`matching.PollerHistoryTTL`), so its age, not its presence, separates it from a running one.
 */
export const POLLER_SEEN_WITHIN_MS = 2 * 60_000;

/**
 * Counts the workers that polled the workflow task queue `taskQueue` within `withinMs`.
 *
 * NOTE: the server lists the pollers of the task queue's root partition only. A running worker showed up there
 * within a second of starting (dev server of Temporal CLI 1.5.1), but on a server with many partitions a worker
 * may poll the others for a while first.
 */
export async function countRecentPollers(
  client: Client,
  taskQueue: string,
  withinMs: number = POLLER_SEEN_WITHIN_MS,
): Promise<number> {
  const response = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue, kind: TASK_QUEUE_KIND_NORMAL },
    taskQueueType: TASK_QUEUE_TYPE_WORKFLOW,
  });
  const since = Date.now() - withinMs;
  const recent = (response.pollers ?? []).filter((poller) => {
    const seconds = poller.lastAccessTime?.seconds;
    return seconds !== undefined && seconds !== null && Number(seconds) * 1000 >= since;
  });
  return recent.length;
}
