/**
 * Follows a release through the status query and prints one line for each stage that reaches an end (promoted,
 * rolled back, skipped…) and one when a stage starts waiting for approval.
 */
import type { Client } from '@temporalio/client';
import { getReleaseStatus } from '../../src/temporal/releases';
import { FINAL_RELEASE_STATES, type HookResult, type ReleaseStatus, type StageStatus } from '../../workflows/messages';
import type { StepLog } from './step-log';

const POLL_MS = 250;

/** Stage states after which the demo has something to print about the stage. */
const REPORTED_STATES = [
  'promoted',
  'rolled-back',
  'rollback-failed',
  'superseded',
  'rejected',
  'expired',
  'cancelled',
];

/** The point at which followRelease returns: the release's end, or a stage waiting for approval. */
export type FollowUntil = 'end' | 'approval';

function shortDigest(digest: string | null | undefined): string {
  return digest ? `${digest.slice(0, 'sha256:'.length + 12)}…` : 'nothing';
}

function describeHooks(hooks: HookResult[]): string {
  if (hooks.length === 0) {
    return 'no hooks';
  }
  return hooks
    .map((hook) => {
      const outcome = hook.passed ? 'passed' : `failed (${lastLine(hook.output) || hook.error || 'no output'})`;
      return `hook ${hook.name} ${outcome} in ${(hook.durationMs / 1000).toFixed(1)}s`;
    })
    .join(', ');
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return lines.find((line) => line.startsWith('FAIL')) ?? lines[lines.length - 1];
}

/** Returns the line for a stage that reached a reported state. */
export function describeStage(stage: StageStatus, digest: string | undefined): string {
  const where = `${stage.repository}:${stage.environmentTag}`;
  switch (stage.state) {
    case 'promoted':
      return `${stage.name}: ${where} now ${shortDigest(digest)} (tags ${stage.tagsMoved.join(', ') || 'unchanged'}); ${describeHooks(stage.hooks)}`;
    case 'rolled-back':
      return `${stage.name}: ${describeHooks(stage.hooks)}; rolled back, ${where} is on ${shortDigest(stage.previousDigest)} again`;
    default:
      return `${stage.name}: ${stage.state}${stage.failure ? `: ${stage.failure}` : ''}`;
  }
}

/**
 * Polls the release until it ends or, with `until: 'approval'`, until a stage waits for approval. Prints a line
 * per stage event; `reported` carries the stages already printed across calls.
 */
export async function followRelease(
  client: Client,
  workflowId: string,
  log: StepLog,
  until: FollowUntil,
  reported: Set<string>,
  timeoutMs = 5 * 60_000,
): Promise<ReleaseStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await getReleaseStatus(client, workflowId);
    for (const stage of status.stages) {
      const key = `${stage.name}:${stage.state}`;
      if (reported.has(key)) {
        continue;
      }
      if (REPORTED_STATES.includes(stage.state)) {
        reported.add(key);
        log.step(describeStage(stage, status.digest));
      } else if (stage.state === 'skipped' && FINAL_RELEASE_STATES.includes(status.state)) {
        reported.add(key);
        log.step(`${stage.name}: skipped, the release ended before it`);
      }
    }
    if (FINAL_RELEASE_STATES.includes(status.state)) {
      return status;
    }
    if (until === 'approval' && status.state === 'awaiting-approval') {
      return status;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `release ${workflowId} is still ${status.state} (${status.currentStep}) after ${timeoutMs / 1000} s; ` +
          'the worker log in the demo folder may say why',
      );
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
