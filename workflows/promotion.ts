/**
 * One promotion: a release's digest into one stage, under the stage's lock. Written as a saga: every step that
 * changes the registry first pushes the step that undoes it. On failure or cancellation the undo steps run inside
 * a non-cancellable scope, environment tag first, so a cancelled release still puts the stage back.
 */
import { CancellationScope, CancelledFailure, isCancellation, log, workflowInfo } from '@temporalio/workflow';
import type { Stage } from '../src/config/schema';
import { renderTagTemplate } from '../src/config/tag-template';
import { LEDGER_HOOK_OUTPUT_MAX_CHARS } from '../src/temporal/constants';
import { copyActivities, hookActivities, registryActivities } from './activity-options';
import type { StageLocks } from './lock-client';
import type { HookResult, LedgerEntry, StageState } from './messages';
import { now, type ReleaseTracker, sourceTag } from './release-status';
import { describeFailure, restoreTag, type TagRestore } from './tag-restore';

/** Everything a promotion needs from its release. */
export interface PromotionContext {
  pipeline: string;
  source: string;
  digest: string;
  startedBy: string;
  /** Release start, milliseconds since the epoch: orders releases for the superseded check. */
  startedAt: number;
  tracker: ReleaseTracker;
  locks: StageLocks;
  approvals: (stage: string) => LedgerEntry['approvals'];
}

/** Outcome of a promotion; cancellation is reported by rethrowing it instead. */
export type PromotionOutcome =
  { result: 'promoted' } | { result: 'superseded'; reason: string } | { result: 'failed'; reason: string };

/** Runs one stage's promotion; throws only the cancellation of the release, after putting the stage back. */
export async function promote(context: PromotionContext, stage: Stage): Promise<PromotionOutcome> {
  const { tracker } = context;
  const status = tracker.stage(stage.name);
  const repository = stage.repository;
  const undo: TagRestore[] = [];
  let lockRequested = false;

  try {
    const extraTags = stage.tags.map((template) =>
      renderTagTemplate(template, {
        sourceTag: sourceTag(context.source),
        digest: context.digest,
        pipeline: context.pipeline,
        startedAt: context.startedAt,
      }),
    );

    tracker.setStageState(stage.name, 'waiting-for-lock');
    tracker.step(`waiting for the lock of ${stage.name}`, stage.name);
    lockRequested = true;
    const grant = await context.locks.acquire(stage.name, 'release', context.digest);

    const newest = grant.newestPromotion;
    if (newest && newest.releaseStartedAt > context.startedAt && newest.workflowId !== workflowInfo().workflowId) {
      const reason = `stage ${stage.name} already holds ${newest.digest} from ${newest.workflowId}, a release started later`;
      await CancellationScope.nonCancellable(() => context.locks.release(stage.name));
      tracker.setStageState(stage.name, 'superseded');
      return { result: 'superseded', reason };
    }

    tracker.setStageState(stage.name, 'copying');
    tracker.step(`reading ${stage.environmentTag} in ${stage.name}`, stage.name);
    const previous = (await registryActivities.readTag({ repository, tag: stage.environmentTag })).digest;
    status.previousDigest = previous;

    tracker.step(`copying to ${stage.name}`, stage.name);
    await copyActivities.copyImage({
      source: sourceByDigest(context.source, context.digest),
      repository,
      referrers: stage.referrers,
    });

    tracker.setStageState(stage.name, 'tagging');
    for (const tag of unique([stage.environmentTag, ...extraTags])) {
      tracker.step(`moving ${tag} in ${stage.name}`, stage.name);
      const before =
        tag === stage.environmentTag ? previous : (await registryActivities.readTag({ repository, tag })).digest;
      if (before === context.digest) {
        continue;
      }
      // Recorded before the move, because a move that fails after the registry stored the tag must still be
      // undone. Until the move is confirmed the undo step first checks whether the tag moved at all.
      const restore: TagRestore = { repository, tag, digest: before, movedTo: context.digest, moved: false };
      undo.push(restore);
      await registryActivities.moveTag({ repository, tag, digest: context.digest });
      restore.moved = true;
      status.tagsMoved.push(tag);
    }

    tracker.setStageState(stage.name, 'testing');
    const failedHook = await runHooks(context, stage);
    if (failedHook) {
      throw new HookFailedError(failedHook);
    }

    await CancellationScope.nonCancellable(() =>
      context.locks.release(stage.name, ledgerEntry(context, stage, 'promoted', previous, extraTags)),
    );
    lockRequested = false;
    return { result: 'promoted' };
  } catch (error) {
    // A cancelled release can also see an activity failure instead of the cancellation: a copy or hook whose
    // worker died cannot confirm the cancellation, so it ends with a heartbeat timeout.
    const cancelled = isCancellation(error) || CancellationScope.current().consideredCancelled;
    const reason = cancelled ? 'the release was cancelled' : describeFailure(error);
    log.warn('Promotion failed; moving tags back', { stage: stage.name, digest: context.digest, reason });
    await CancellationScope.nonCancellable(async () => {
      tracker.step(`rolling back ${stage.name}`, stage.name);
      const problems = await undoAll(undo, stage.environmentTag);
      const messages = [...problems.values()];
      status.failure = messages.length > 0 ? `${reason}; rollback incomplete: ${messages.join('; ')}` : reason;
      const previous = status.previousDigest ?? null;
      // When the environment tag could not be put back it still points at this release's digest.
      const environmentDigest = problems.has(stage.environmentTag) ? context.digest : previous;
      const entry =
        undo.length > 0
          ? {
              ...ledgerEntry(context, stage, 'rolled-back', previous, status.tagsMoved, status.failure),
              environmentDigest,
            }
          : undefined;
      if (lockRequested) {
        await context.locks.release(stage.name, entry);
      }
      let stageState: StageState = cancelled ? 'cancelled' : 'rolled-back';
      if (problems.size > 0) {
        stageState = 'rollback-failed';
      }
      tracker.setStageState(stage.name, stageState);
    });
    if (cancelled) {
      throw isCancellation(error) ? error : new CancelledFailure('the release was cancelled', [], error as Error);
    }
    return { result: 'failed', reason: `stage ${stage.name}: ${status.failure}` };
  }
}

/** Runs the stage's hooks in order and returns the first failed one, or undefined when all passed. */
async function runHooks(context: PromotionContext, stage: Stage): Promise<HookResult | undefined> {
  const status = context.tracker.stage(stage.name);
  for (const hook of stage.hooks) {
    context.tracker.step(`running hook ${hook.name} in ${stage.name}`, stage.name);
    const result = await hookActivities(hook.timeout).runHook({
      hook,
      pipeline: context.pipeline,
      stage: stage.name,
      release: workflowInfo().workflowId,
      repository: stage.repository,
      digest: context.digest,
    });
    status.hooks.push(result);
    if (!result.passed) {
      return result;
    }
  }
  return undefined;
}

/**
 * Undoes tag moves, the environment tag first because deployments follow it: an extra tag whose restore keeps
 * failing must not keep the environment on the failed build. The other tags are restored together afterwards.
 * Returns the tags that could not be put back, each with the problem.
 */
async function undoAll(undo: TagRestore[], environmentTag: string): Promise<Map<string, string>> {
  const problems = new Map<string, string>();
  const environment = undo.filter((restore) => restore.tag === environmentTag);
  const others = undo.filter((restore) => restore.tag !== environmentTag);
  for (const batch of [environment, others]) {
    const results = await Promise.all(batch.map((restore) => restoreTag(restore)));
    results.forEach((problem, index) => {
      if (problem) {
        problems.set(batch[index].tag, problem);
      }
    });
  }
  return problems;
}

class HookFailedError extends Error {
  constructor(result: HookResult) {
    const detail = result.error ?? (result.timedOut ? 'timed out' : hookOutcome(result));
    super(`hook ${result.name} failed (${detail})`);
    this.name = 'HookFailedError';
  }
}

function hookOutcome(result: HookResult): string {
  if (result.kind === 'http') {
    return `HTTP status ${result.status}`;
  }
  return result.signal ? `killed by ${result.signal}` : `exit code ${result.exitCode}`;
}

function ledgerEntry(
  context: PromotionContext,
  stage: Stage,
  kind: 'promoted' | 'rolled-back',
  previous: string | null,
  tags: string[],
  reason?: string,
): LedgerEntry {
  const info = workflowInfo();
  const hooks = context.tracker.stage(stage.name).hooks.map((hook) => ({
    ...hook,
    output: hook.output.slice(0, LEDGER_HOOK_OUTPUT_MAX_CHARS),
    outputTruncated: hook.outputTruncated || hook.output.length > LEDGER_HOOK_OUTPUT_MAX_CHARS,
  }));
  return {
    id: `${info.workflowId}/${info.runId}/${stage.name}/${kind}`,
    kind,
    digest: context.digest,
    environmentDigest: kind === 'promoted' ? context.digest : previous,
    previousDigest: previous,
    workflowId: info.workflowId,
    runId: info.runId,
    by: context.startedBy,
    at: now(),
    releaseStartedAt: context.startedAt,
    tags: [...tags],
    approvals: context.approvals(stage.name),
    hooks,
    ...(reason ? { reason } : {}),
  };
}

/** Returns the source reference as `repo@digest`, without its tag, so the copy names one manifest. */
function sourceByDigest(source: string, digest: string): string {
  const at = source.lastIndexOf('@');
  const name = at < 0 ? source : source.slice(0, at);
  const colon = name.indexOf(':', name.lastIndexOf('/') + 1);
  return `${colon < 0 ? name : name.slice(0, colon)}@${digest}`;
}

function unique(tags: string[]): string[] {
  return [...new Set(tags)];
}
