/**
 * Manual rollback of one stage's environment tag to an earlier digest from the stage's ledger. It passes the
 * stage's approval gate (approvers name the target digest), then moves the tag under the stage's lock and records
 * a manual-rollback entry. The target is fixed before the approval, so approvers know what they approve. If the
 * ledger changed while they decided, the rollback fails instead of moving the tag to an unapproved target.
 */
import {
  ActivityFailure,
  allHandlersFinished,
  CancellationScope,
  condition,
  isCancellation,
  log,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { DIGEST_ATTRIBUTE, STATE_ATTRIBUTE } from '../src/temporal/search-attributes';
import { lockActivities, registryActivities } from './activity-options';
import { ApprovalGates } from './approvals';
import { StageLocks } from './lock-client';
import {
  type LedgerEntry,
  type RollbackInput,
  type RollbackState,
  type RollbackStatus,
  rollbackStatusQuery,
} from './messages';
import { now } from './release-status';
import { chooseRollbackTarget } from './rollback-target';
import { describeFailure, restoreTag } from './tag-restore';

export async function rollbackWorkflow(input: RollbackInput): Promise<RollbackStatus> {
  const info = workflowInfo();
  const stage = input.pipeline.stages.find((candidate) => candidate.name === input.stage);
  const status: RollbackStatus = {
    rollbackId: info.workflowId,
    pipeline: input.pipeline.name,
    stage: input.stage,
    requestedBy: input.requestedBy,
    state: 'running',
    currentStep: 'reading the ledger',
    requiredApprovals: stage?.approval?.required ?? 0,
    approvals: [],
    refusedApprovals: [],
    startedAt: info.runStartTime.toISOString(),
  };
  const finished = () => !['running', 'awaiting-approval', 'waiting-for-lock'].includes(status.state);
  const gates = new ApprovalGates({
    gates: new Map([[input.stage, stage?.approval]]),
    startedBy: input.requestedBy,
    digest: () => status.targetDigest,
    closedReason: () => (finished() ? `the rollback has ended (${status.state})` : undefined),
  });
  const locks = new StageLocks(input.pipeline.name);
  gates.registerHandlers();
  locks.registerHandlers();
  // The status with the decisions taken so far, for the query and for every way the rollback ends.
  const snapshot = (): RollbackStatus => ({
    ...status,
    approvals: [...gates.recordsFor(input.stage)],
    refusedApprovals: [...gates.refused],
  });
  setHandler(rollbackStatusQuery, snapshot);

  // The same search attributes as releases, so `PromoteState` lists waiting rollbacks next to waiting releases.
  const setState = (state: RollbackState) => {
    if (status.state !== state) {
      status.state = state;
      upsertSearchAttributes([{ key: STATE_ATTRIBUTE, value: state }]);
    }
  };
  const finish = (state: RollbackState, failure?: string) => {
    setState(state);
    status.currentStep = state;
    status.finishedAt = now();
    status.failure = failure;
    log.info('Rollback ended', { pipeline: input.pipeline.name, stage: input.stage, state, failure });
  };

  if (!stage || input.pipeline.stages[0].name === input.stage) {
    const targets = input.pipeline.stages.slice(1).map((candidate) => candidate.name);
    finish(
      'failed',
      `"${input.stage}" is not a target stage of pipeline ${input.pipeline.name}; expected one of ${targets.join(', ')}`,
    );
    return snapshot();
  }

  let lockRequested = false;
  try {
    const ledger = await lockActivities.readStageLedger({ pipeline: input.pipeline.name, stage: input.stage });
    const choice = chooseRollbackTarget(ledger, input.to);
    if ('problem' in choice) {
      finish('failed', `stage ${input.stage}: ${choice.problem}`);
      return snapshot();
    }
    status.targetDigest = choice.target;
    upsertSearchAttributes([{ key: DIGEST_ATTRIBUTE, value: choice.target }]);

    if (stage.approval) {
      setState('awaiting-approval');
      status.currentStep = `waiting for approval of the rollback to ${choice.target}`;
      const gate = await gates.wait(input.stage);
      if (gate.decision !== 'approved') {
        const failure =
          gate.decision === 'rejected'
            ? `${gate.by.person} rejected the rollback`
            : 'the rollback was not approved in time';
        finish(gate.decision, failure);
        return snapshot();
      }
    }

    setState('waiting-for-lock');
    status.currentStep = `waiting for the lock of ${input.stage}`;
    lockRequested = true;
    const grant = await locks.acquire(input.stage, 'rollback', choice.target);
    setState('running');
    if (grant.head?.id !== choice.headId) {
      finish('failed', `the ledger of stage ${input.stage} changed while the rollback waited; start a new rollback`);
      await locks.release(input.stage);
      lockRequested = false;
      return snapshot();
    }

    status.currentStep = `moving ${stage.environmentTag} to ${choice.target}`;
    const repository = stage.repository;
    const previous = (await registryActivities.readTag({ repository, tag: stage.environmentTag })).digest;
    status.previousDigest = previous;
    try {
      await registryActivities.moveTag({ repository, tag: stage.environmentTag, digest: choice.target });
    } catch (error) {
      // The move may have reached the registry before failing; put the tag back before giving up.
      await CancellationScope.nonCancellable(() =>
        restoreTag({ repository, tag: stage.environmentTag, digest: previous, movedTo: choice.target, moved: false }),
      );
      throw error;
    }

    const entry = rollbackEntry(input, choice.target, previous, gates.recordsFor(input.stage));
    await CancellationScope.nonCancellable(() => locks.release(input.stage, entry));
    lockRequested = false;
    finish('completed');
  } catch (error) {
    if (lockRequested) {
      await CancellationScope.nonCancellable(() => locks.release(input.stage));
    }
    if (isCancellation(error)) {
      finish('cancelled', 'the rollback was cancelled');
      throw error;
    }
    if (!(error instanceof ActivityFailure)) {
      throw error;
    }
    finish('failed', describeFailure(error));
  }

  await condition(allHandlersFinished);
  return snapshot();
}

function rollbackEntry(
  input: RollbackInput,
  target: string,
  previous: string | null,
  approvals: LedgerEntry['approvals'],
): LedgerEntry {
  const info = workflowInfo();
  const stage = input.pipeline.stages.find((candidate) => candidate.name === input.stage)!;
  return {
    id: `${info.workflowId}/${info.runId}/${input.stage}/manual-rollback`,
    kind: 'manual-rollback',
    digest: target,
    environmentDigest: target,
    previousDigest: previous,
    workflowId: info.workflowId,
    runId: info.runId,
    by: input.requestedBy,
    at: now(),
    tags: [stage.environmentTag],
    approvals,
    hooks: [],
    ...(input.reason ? { reason: input.reason } : {}),
  };
}
