/**
 * The release workflow: one digest carried through a pipeline's stages in order. Each target stage waits for its
 * approval gate, then is promoted under the stage's lock (see promotion.ts), then soaks before the next stage.
 *
 * The workflow returns its final status for every ending except cancellation, which it reports by rethrowing the
 * cancellation after putting the current stage back, so Temporal shows the execution as cancelled.
 */
import {
  ActivityFailure,
  allHandlersFinished,
  CancellationScope,
  CancelledFailure,
  condition,
  isCancellation,
  log,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { Stage } from '../src/config/schema';
import { registryActivities } from './activity-options';
import { ApprovalGates } from './approvals';
import { ReleaseEvents } from './events';
import { StageLocks } from './lock-client';
import { type ReleaseInput, type ReleaseStatus, releaseStatusQuery } from './messages';
import { promote, type PromotionContext } from './promotion';
import { pinnedDigest, ReleaseTracker } from './release-status';
import { describeFailure } from './tag-restore';
import { readReleaseFacts, whenStops } from './when';

export async function releaseWorkflow(input: ReleaseInput): Promise<ReleaseStatus> {
  const tracker = new ReleaseTracker(input);
  const targets = input.pipeline.stages.slice(1);
  const gates = new ApprovalGates({
    gates: new Map(targets.map((stage) => [stage.name, stage.approval])),
    startedBy: input.startedBy,
    digest: () => tracker.digest,
    closedReason: () => (tracker.isFinished() ? `the release has ended (${tracker.state})` : undefined),
  });
  tracker.attachGates(gates);
  const locks = new StageLocks(input.pipeline.name);
  const events = new ReleaseEvents(input.pipeline, () => tracker.digest);

  // Handlers are registered before the first await so that no early signal, update or query finds none.
  gates.registerHandlers();
  locks.registerHandlers();
  setHandler(releaseStatusQuery, () => tracker.snapshot());

  try {
    await runRelease(input, targets, tracker, gates, locks, events);
  } catch (error) {
    // After a cancellation request an activity may fail instead of being cancelled, because its worker died and it
    // timed out. The release still ends as cancelled, which is what Temporal reports for it.
    const cancelRequested = CancellationScope.current().consideredCancelled && error instanceof ActivityFailure;
    if (isCancellation(error) || cancelRequested) {
      markCancelled(tracker, targets);
      log.info('Release cancelled', { pipeline: input.pipeline.name, digest: tracker.digest });
      throw isCancellation(error)
        ? error
        : new CancelledFailure('the release was cancelled', [], error as ActivityFailure);
    }
    if (!(error instanceof ActivityFailure)) {
      // Anything else is a bug in this code; rethrowing fails the workflow task, which Temporal retries after a fix.
      throw error;
    }
    tracker.finish('failed', describeFailure(error));
    events.emit('release.failed', tracker.snapshot().currentStage, { reason: describeFailure(error) });
  }
  await events.close();

  // Let an update that arrived together with the final step return its result before the workflow closes.
  await condition(allHandlersFinished);
  return tracker.snapshot();
}

async function runRelease(
  input: ReleaseInput,
  targets: Stage[],
  tracker: ReleaseTracker,
  gates: ApprovalGates,
  locks: StageLocks,
  events: ReleaseEvents,
): Promise<void> {
  tracker.step('resolving the source');
  const resolved = await registryActivities.resolveDigest({
    reference: input.source,
    insecureRegistries: input.pipeline.insecureRegistries,
  });
  const pinned = pinnedDigest(input.source);
  if (pinned !== undefined && pinned !== resolved.digest) {
    tracker.finish('failed', `source ${input.source} resolves to ${resolved.digest}, not to its pinned digest`);
    return;
  }
  tracker.setDigest(resolved.digest);
  log.info('Release started', { pipeline: input.pipeline.name, digest: resolved.digest, startedBy: input.startedBy });
  events.emit('release.started');
  const facts = await readReleaseFacts(input.pipeline, input.source, resolved.digest);

  const context: PromotionContext = {
    pipeline: input.pipeline.name,
    source: input.source,
    digest: resolved.digest,
    startedBy: input.startedBy,
    startedAt: workflowInfo().runStartTime.getTime(),
    tracker,
    locks,
    approvals: (stage) => gates.recordsFor(stage),
  };

  for (const [index, stage] of targets.entries()) {
    const stop = whenStops(stage, index + 1, facts);
    if (stop) {
      tracker.stage(stage.name).stoppedBy = stop;
      tracker.finish('completed');
      events.emit('release.completed', stage.name, { stoppedBy: stop });
      log.info('Release stopped by a when rule', { pipeline: input.pipeline.name, stage: stage.name, reason: stop });
      return;
    }
    if (stage.approval) {
      tracker.setStageState(stage.name, 'awaiting-approval');
      tracker.step(`waiting for approval of ${stage.name}`, stage.name);
      events.emit('stage.awaiting-approval', stage.name, { approvers: stage.approval.approvers });
      const gate = await gates.wait(stage.name);
      if (gate.decision === 'rejected') {
        tracker.setStageState(stage.name, 'rejected');
        const comment = gate.by.comment ? `: ${gate.by.comment}` : '';
        tracker.finish('rejected', `${gate.by.person} rejected stage ${stage.name}${comment}`);
        events.emit('release.rejected', stage.name, { by: gate.by.person });
        return;
      }
      if (gate.decision === 'expired') {
        tracker.setStageState(stage.name, 'expired');
        tracker.finish(
          'expired',
          `stage ${stage.name} was not approved within ${formatDuration(stage.approval.timeout)}`,
        );
        events.emit('release.expired', stage.name);
        return;
      }
    }

    const outcome = await promote(context, stage);
    if (outcome.result !== 'promoted') {
      if (['rolled-back', 'rollback-failed'].includes(tracker.stage(stage.name).state)) {
        events.emit('stage.rolled-back', stage.name, { reason: outcome.reason });
      }
      tracker.finish(outcome.result, outcome.reason);
      events.emit(outcome.result === 'superseded' ? 'release.superseded' : 'release.failed', stage.name, {
        reason: outcome.reason,
      });
      log.info('Release ended', { pipeline: input.pipeline.name, state: outcome.result, reason: outcome.reason });
      return;
    }

    events.emit('stage.promoted', stage.name);
    const isLast = index === targets.length - 1;
    if (stage.soak > 0 && !isLast) {
      tracker.setStageState(stage.name, 'soaking');
      tracker.step(`soaking ${stage.name} for ${formatDuration(stage.soak)}`, stage.name);
      await sleep(stage.soak);
    }
    tracker.setStageState(stage.name, 'promoted');
  }
  tracker.finish('completed');
  events.emit('release.completed');
  log.info('Release completed', { pipeline: input.pipeline.name, digest: resolved.digest });
}

/** Marks the stage in progress as cancelled; a stage that was soaking had been promoted and stays so. */
function markCancelled(tracker: ReleaseTracker, targets: Stage[]): void {
  for (const stage of targets) {
    const state = tracker.stage(stage.name).state;
    if (state === 'soaking') {
      tracker.setStageState(stage.name, 'promoted');
    } else if (state === 'awaiting-approval' || state === 'waiting-for-lock') {
      tracker.setStageState(stage.name, 'cancelled');
    }
  }
  tracker.finish('cancelled', 'the release was cancelled');
}

/** Formats milliseconds the way pipeline files write durations: `90s`, `10m`, `2h`, `7d`. */
export function formatDuration(ms: number): string {
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ];
  for (const [unit, size] of units) {
    if (ms >= size && ms % size === 0) {
      return `${ms / size}${unit}`;
    }
  }
  return `${ms}ms`;
}
