import { setTimeout as sleep } from 'node:timers/promises';
import { type Client } from '@temporalio/client';
import { TASK_QUEUE } from '../temporal/constants';
import { countRecentPollers } from '../temporal/pollers';
import { CliError, ExitCode } from './exit-codes';
import { isFinal, isRollbackId, readWorkflowStatus, type WorkflowStatus } from './status-view';

/** How often a followed workflow's status is read. */
export const FOLLOW_INTERVAL_MS = 1000;

/** Options of followWorkflow. */
export interface FollowOptions {
  /** Called with the first status and with every status that differs from the one before. */
  onChange: (view: WorkflowStatus) => void;
  /** Called when a status could not be read; the loop keeps trying. */
  onReadError?: (error: unknown) => void;
  intervalMs?: number;
}

/**
 * Reads a workflow's status until it reaches a final state, and returns that status. A status that cannot be
 * read for a while (a worker restarts, the server restarts) does not end the loop, because the release goes on
 * without this client. Errors about the input, such as an unknown ID, end it, and so does a status query that no
 * worker responded to while no worker polls the workflow's task queue, because then nothing would ever change.
 */
export async function followWorkflow(client: Client, id: string, options: FollowOptions): Promise<WorkflowStatus> {
  const intervalMs = options.intervalMs ?? FOLLOW_INTERVAL_MS;
  let previous = '';
  for (;;) {
    let view: WorkflowStatus | undefined;
    try {
      view = await readWorkflowStatus(client, id);
    } catch (error) {
      if (error instanceof CliError && error.exitCode !== ExitCode.Unreachable) {
        throw error;
      }
      if (error instanceof CliError) {
        await checkWorkerPolls(client, id, error);
      }
      options.onReadError?.(error);
    }
    if (view) {
      const current = JSON.stringify(view.status);
      if (current !== previous) {
        previous = current;
        options.onChange(view);
      }
      if (isFinal(view)) {
        return view;
      }
    }
    await sleep(intervalMs);
  }
}

/**
 * Throws when no worker polls the task queue of workflow `id`. Called after a status query went unanswered, which
 * takes WORKER_DEADLINE_MS, so a person learns within about that time that the workflow waits for a worker. A
 * failure to check is left to the next read.
 */
async function checkWorkerPolls(client: Client, id: string, unanswered: CliError): Promise<void> {
  let taskQueue: string;
  let pollers: number;
  try {
    taskQueue = (await client.workflow.getHandle(id).describe()).taskQueue;
    pollers = await countRecentPollers(client, taskQueue);
  } catch {
    return;
  }
  if (pollers > 0) {
    return;
  }
  const kind = isRollbackId(id) ? 'rollback' : 'release';
  const command = taskQueue === TASK_QUEUE ? 'promote worker' : `promote worker --task-queue ${taskQueue}`;
  throw new CliError(
    ExitCode.Unreachable,
    `no worker polls task queue ${taskQueue} in namespace ${client.options.namespace}, so ${kind} ${id} cannot ` +
      `go on; start one with '${command}', then follow the ${kind} with 'promote status ${id} --watch'`,
    { cause: unanswered },
  );
}
