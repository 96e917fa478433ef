/**
 * The requesting side of a stage's lock, used by release and rollback workflows. The stage workflow keeps the
 * queue. This side sends the request (through an activity, because only a client can signal-with-start), waits for
 * the grant signal and signals the lock back with its ledger entry.
 */
import { condition, getExternalWorkflowHandle, log, setHandler, workflowInfo } from '@temporalio/workflow';
import { stageWorkflowId } from '../src/temporal/ids';
import { lockActivities } from './activity-options';
import {
  type LedgerEntry,
  type LockGrant,
  type LockRequest,
  lockGrantedSignal,
  lockHolderCheckSignal,
  lockReleaseSignal,
} from './messages';

export class StageLocks {
  private readonly grants = new Map<string, LockGrant>();

  constructor(private readonly pipeline: string) {}

  /** Registers the grant signal and the stage workflow's liveness check. Call before the first await. */
  registerHandlers(): void {
    setHandler(lockGrantedSignal, (grant) => {
      this.grants.set(grant.stage, grant);
    });
    // The stage workflow only needs this signal to be deliverable; there is nothing to do on receipt.
    setHandler(lockHolderCheckSignal, () => undefined);
  }

  /**
   * Queues for the stage's lock and waits until it is granted. Cancelling the wait leaves the request queued, so
   * the caller must call `release` in every case once it has called `acquire`.
   */
  async acquire(stage: string, kind: LockRequest['kind'], digest: string): Promise<LockGrant> {
    const info = workflowInfo();
    const request: LockRequest = {
      workflowId: info.workflowId,
      runId: info.runId,
      kind,
      digest,
      requestedAt: new Date().toISOString(),
    };
    this.grants.delete(stage);
    await lockActivities.requestStageLock({ pipeline: this.pipeline, stage, request });
    await condition(() => this.grants.has(stage));
    return this.grants.get(stage)!;
  }

  /**
   * Gives the lock back (or withdraws a queued request) and appends `entry` to the ledger. Does not throw: when the
   * stage workflow cannot be signalled (an operator terminated it) the entry is lost, and the log records that.
   */
  async release(stage: string, entry?: LedgerEntry): Promise<void> {
    const info = workflowInfo();
    this.grants.delete(stage);
    try {
      await getExternalWorkflowHandle(stageWorkflowId(this.pipeline, stage)).signal(lockReleaseSignal, {
        workflowId: info.workflowId,
        runId: info.runId,
        entry,
      });
    } catch (error) {
      log.error('Could not release the stage lock; the ledger entry is lost', {
        pipeline: this.pipeline,
        stage,
        entryKind: entry?.kind,
        digest: entry?.digest,
        error: (error as Error).message,
      });
    }
  }
}
