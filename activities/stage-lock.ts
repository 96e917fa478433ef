/** Activities that talk to the stage workflows through a Temporal client. */
import { Context } from '@temporalio/activity';
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { STAGE_WORKFLOW_TYPE } from '../src/temporal/constants';
import { stageWorkflowId } from '../src/temporal/ids';
import { type LedgerEntry, ledgerQuery, lockRequestSignal, type StageInput } from '../workflows/messages';
import type { ReadStageLedgerInput, RequestStageLockInput } from './types';

export function createStageLockActivities(client: Client) {
  return {
    /**
     * Queues a lock request at the stage workflow, starting that workflow first when it does not run yet
     * (signal-with-start, which only a client can do). Idempotent: the stage workflow ignores a request from a
     * workflow run that already holds the lock or waits for it.
     */
    requestStageLock: async (input: RequestStageLockInput): Promise<void> => {
      const stageInput: StageInput = { pipeline: input.pipeline, stage: input.stage };
      await client.workflow.signalWithStart(STAGE_WORKFLOW_TYPE, {
        workflowId: stageWorkflowId(input.pipeline, input.stage),
        taskQueue: Context.current().info.taskQueue,
        args: [stageInput],
        signal: lockRequestSignal,
        signalArgs: [input.request],
      });
    },

    /** Returns the stage's ledger, oldest entry first; empty when the stage has no workflow yet. Only reads. */
    readStageLedger: async (input: ReadStageLedgerInput): Promise<LedgerEntry[]> => {
      try {
        return await client.workflow.getHandle(stageWorkflowId(input.pipeline, input.stage)).query(ledgerQuery, {});
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) {
          return [];
        }
        throw error;
      }
    },
  };
}
