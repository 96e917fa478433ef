/**
 * The truth check: every release's outcome against the plan, the stage ledgers and what the registries hold.
 *
 * What "correct" means when many releases race through the same stages. A release ends in one of three right ways:
 * - COMPLETED, when its hook passes everywhere: every target stage promoted it.
 * - FAILED, when its hook fails in stage F, which the seeded rule decides before the run. Every stage before F
 *   promoted it, and F was rolled back: the ledger records the rollback, with the environment tag back on the
 *   digest it held before. It never touched the stages after F.
 * - SUPERSEDED in stage S, when a release that started later had already been promoted into S by the time this
 *   one got S's lock. Every stage before S promoted it, S's ledger holds that newer promotion from before this
 *   release ended, and this release left S and the stages after S alone. S is not after F, because a release
 *   whose hook fails never reaches later stages.
 * Timing decides between completed and superseded, so both are right for a release whose hooks pass. Any other
 * end (expired, rejected, cancelled, failed for another reason, still running at the deadline) is wrong.
 *
 * Each stage must agree with its ledger and with the registry:
 * - each ledger entry starts from the digest the entry before it left, so no tag move went unrecorded;
 * - promotions follow release start order, so an environment never moved back to an older build;
 * - the environment tag holds the digest of the last entry, which by the two rules above is the newest release
 *   promoted there;
 * - a release's source tag is in a stage exactly when the ledger says the release was promoted there, and no tag
 *   points at a digest that no release promoted there;
 * - no lock is left held and no request is left queued.
 * A stage problem counts against the release whose entry or tag it concerns.
 *
 * Through the proxies, every upload the registry committed carried bytes whose sha256 is the digest it was
 * committed as, no upload sent a complete body that did not match its digest, and every manifest written was the
 * exact manifest of a release.
 */
import type { LedgerEntry, ReleaseStatus, StageLockState, StageStatus } from '../../workflows/messages';
import { HOOK_NAME, TARGET_STAGES, type TargetStage } from './plan';
import type { ReleaseOutcome } from './releases';
import type { ManifestPut, UploadCommit } from './traffic-record';
import { checkSourceTags, checkStage, checkTraffic } from './truth-stages';

export interface ReleaseFacts {
  index: number;
  /** Source tag, also the extra tag each stage gets. */
  tag: string;
  digest: string;
  workflowId: string;
  /** Stage whose hook fails for this digest, by the seeded rule. */
  expectedFailure?: TargetStage;
  /** Config and layer digests of the release's image. */
  blobs: string[];
  outcome: ReleaseOutcome;
}

export interface StageFacts {
  stage: TargetStage;
  ledger: LedgerEntry[];
  lock?: StageLockState;
  /** Tags in the stage's repository and their digests, read from the registry. */
  tags: Map<string, string>;
}

export interface TruthInput {
  releases: ReleaseFacts[];
  stages: StageFacts[];
  /** Tags of the source repository; the run pushed `tag → digest` of every release there and nothing else. */
  sourceTags: Map<string, string>;
  manifestPuts: ManifestPut[];
  uploadCommits: UploadCommit[];
}

export interface Verdict {
  release: ReleaseFacts;
  /** completed, failed, superseded, stuck, or how the workflow ended otherwise. */
  ending: string;
  problems: string[];
}

export interface TruthResult {
  verdicts: Verdict[];
  /** Problems that concern no release: a tag or manifest of unknown origin. */
  unattributed: string[];
}

export function checkTruth(input: TruthInput): TruthResult {
  const problems = new Map<string, string[]>(input.releases.map((release) => [release.workflowId, []]));
  const unattributed: string[] = [];
  const byWorkflow = new Map(input.releases.map((release) => [release.workflowId, release]));
  const byDigest = new Map(input.releases.map((release) => [release.digest, release]));
  const byTag = new Map(input.releases.map((release) => [release.tag, release]));
  const blame = (workflowId: string | undefined, problem: string) => {
    const list = workflowId === undefined ? undefined : problems.get(workflowId);
    if (list) {
      list.push(problem);
    } else {
      unattributed.push(workflowId ? `${problem} (by ${workflowId})` : problem);
    }
  };

  const stages = new Map(input.stages.map((facts) => [facts.stage, facts]));
  for (const release of input.releases) {
    for (const problem of checkRelease(release, stages)) {
      blame(release.workflowId, problem);
    }
  }
  for (const facts of input.stages) {
    checkStage(facts, byDigest, byTag, byWorkflow, blame);
  }
  checkSourceTags(input.sourceTags, byTag, blame);
  checkTraffic(input, byDigest, blame);

  const verdicts = input.releases.map((release) => ({
    release,
    ending: endingOf(release.outcome),
    problems: problems.get(release.workflowId) ?? [],
  }));
  return { verdicts, unattributed };
}

function endingOf(outcome: ReleaseOutcome): string {
  if (outcome.kind === 'closed') {
    return outcome.status.state;
  }
  return outcome.kind === 'stuck' ? 'stuck' : 'workflow failed';
}

/** Checks the release's own end against the plan and the ledgers, stage by stage. */
function checkRelease(release: ReleaseFacts, stages: Map<TargetStage, StageFacts>): string[] {
  const outcome = release.outcome;
  if (outcome.kind === 'stuck') {
    const where = outcome.status ? ` (${outcome.status.state}: ${outcome.status.currentStep})` : '';
    return [`still running at the deadline${where}`];
  }
  if (outcome.kind === 'workflow-failed') {
    return [`the workflow ended without a result: ${outcome.message}`];
  }
  const status = outcome.status;
  const problems: string[] = [];
  if (status.digest !== release.digest) {
    problems.push(`status digest ${status.digest} differs from the source digest ${release.digest}`);
  }

  const planned = release.expectedFailure;
  const end = endStage(status);
  if (status.state === 'completed') {
    if (planned) {
      problems.push(`completed, but its hook was planned to fail in ${planned}`);
    }
  } else if (status.state === 'failed') {
    if (end === undefined || end !== planned) {
      problems.push(`failed in ${end ?? 'no stage'} (${status.failure}), expected ${planned ?? 'no failure'}`);
    } else if (!status.failure?.includes(`hook ${HOOK_NAME} failed`)) {
      problems.push(`failed in ${end} for another reason than its hook: ${status.failure}`);
    }
  } else if (status.state === 'superseded') {
    if (end === undefined) {
      problems.push('superseded, but no stage is marked superseded');
    } else if (planned && TARGET_STAGES.indexOf(end) > TARGET_STAGES.indexOf(planned)) {
      problems.push(`superseded in ${end}, after ${planned} where its hook was planned to fail`);
    }
  } else {
    problems.push(`ended ${status.state}: ${status.failure ?? status.currentStep}`);
  }

  // Index of the stage the release ended in; -1 when it ended before its first target stage.
  let endIndex = end === undefined ? -1 : TARGET_STAGES.indexOf(end);
  if (status.state === 'completed') {
    endIndex = TARGET_STAGES.length - 1;
  }
  TARGET_STAGES.forEach((stage, index) => {
    const facts = stages.get(stage);
    const stageStatus = status.stages.find((candidate) => candidate.name === stage);
    if (!facts || !stageStatus) {
      problems.push(`${stage}: missing from the status or the stage facts`);
      return;
    }
    const own = facts.ledger.filter((entry) => entry.workflowId === release.workflowId);
    const promoted = own.some((entry) => entry.kind === 'promoted' && entry.digest === release.digest);
    const hasSourceTag = facts.tags.get(release.tag) === release.digest;
    const expectPromoted = index < endIndex || (index === endIndex && status.state === 'completed');

    if (expectPromoted) {
      if (stageStatus.state !== 'promoted') {
        problems.push(`${stage}: state ${stageStatus.state}, expected promoted`);
      }
      if (!promoted || own.length !== 1) {
        problems.push(`${stage}: ledger has ${describeEntries(own)}, expected one promotion`);
      }
      if (!hasSourceTag) {
        problems.push(
          `${stage}: tag ${release.tag} is ${facts.tags.get(release.tag) ?? 'absent'}, expected ${release.digest}`,
        );
      }
      return;
    }
    if (index === endIndex && status.state === 'failed') {
      // A failure other than the planned hook is reported above; what it left behind is not checked further.
      if (stage === planned) {
        problems.push(...checkRolledBack(stage, stageStatus, own, facts, release));
      }
      return;
    }
    if (index === endIndex && status.state === 'superseded') {
      problems.push(...checkSuperseded(stage, stageStatus, facts, status));
    } else if (stageStatus.state !== 'skipped') {
      problems.push(`${stage}: state ${stageStatus.state}, expected skipped after the release ended`);
    }
    if (own.length > 0) {
      problems.push(`${stage}: ledger has ${describeEntries(own)} from a stage the release should not have touched`);
    }
    if (facts.tags.has(release.tag)) {
      problems.push(`${stage}: tag ${release.tag} exists, but the release was not promoted there`);
    }
  });
  return problems;
}

/** Returns the stage where a release ended: rolled back, superseded or otherwise final but not promoted. */
function endStage(status: ReleaseStatus): TargetStage | undefined {
  const ended = status.stages.find((stage) => !['promoted', 'skipped', 'pending'].includes(stage.state));
  return ended?.name as TargetStage | undefined;
}

function checkRolledBack(
  stage: TargetStage,
  stageStatus: StageStatus,
  own: LedgerEntry[],
  facts: StageFacts,
  release: ReleaseFacts,
): string[] {
  const problems: string[] = [];
  if (stageStatus.state !== 'rolled-back') {
    problems.push(`${stage}: state ${stageStatus.state}, expected rolled-back after the failed hook`);
  }
  const rollback = own.find((entry) => entry.kind === 'rolled-back');
  if (!rollback || own.length !== 1) {
    problems.push(`${stage}: ledger has ${describeEntries(own)}, expected one rolled-back entry`);
  } else if (rollback.environmentDigest !== rollback.previousDigest) {
    problems.push(
      `${stage}: rollback left ${rollback.environmentDigest ?? 'no tag'}, expected ${rollback.previousDigest ?? 'no tag'}`,
    );
  }
  if (facts.tags.has(release.tag)) {
    problems.push(`${stage}: tag ${release.tag} is still there after the rollback`);
  }
  return problems;
}

function checkSuperseded(
  stage: TargetStage,
  stageStatus: StageStatus,
  facts: StageFacts,
  status: ReleaseStatus,
): string[] {
  const startedAt = Date.parse(status.startedAt);
  const endedAt = stageStatus.finishedAt ?? status.finishedAt ?? '';
  const newer = facts.ledger.find(
    (entry) => entry.kind === 'promoted' && (entry.releaseStartedAt ?? 0) > startedAt && entry.at <= endedAt,
  );
  const problems: string[] = [];
  if (stageStatus.state !== 'superseded') {
    problems.push(`${stage}: state ${stageStatus.state}, expected superseded`);
  }
  if (!newer) {
    problems.push(`${stage}: superseded, but the ledger has no promotion of a newer release before ${endedAt}`);
  }
  return problems;
}

function describeEntries(entries: LedgerEntry[]): string {
  return entries.length === 0 ? 'no entry' : entries.map((entry) => `${entry.kind} ${entry.digest}`).join(', ');
}
