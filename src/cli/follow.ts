import { setTimeout as sleep } from 'node:timers/promises';
import { type Client } from '@temporalio/client';
import { CliError, ExitCode } from './exit-codes';
import { isFinal, readWorkflowStatus, type WorkflowStatus } from './status-view';

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
 * read for a while (no worker responds, the server restarts) does not end the loop, because the release goes on
 * without this client. Errors about the input, such as an unknown ID, end it.
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
