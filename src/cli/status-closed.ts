/**
 * The status of a release or rollback whose execution has closed. A workflow that returned keeps its status in its
 * result. One that was cancelled, terminated or timed out has no result, and a terminated or timed-out one never
 * recorded how it ended, so Temporal's own record of the ending decides the state shown.
 */
import { type Client, type WorkflowExecutionDescription, type WorkflowHandle } from '@temporalio/client';
import type { ReleaseState, RollbackState } from '../../workflows/messages';
import { releaseStatusQuery, rollbackStatusQuery } from '../../workflows/messages';
import { DIGEST_ATTRIBUTE, PIPELINE_ATTRIBUTE, STAGE_ATTRIBUTE, STATE_ATTRIBUTE } from '../temporal/search-attributes';

/** Endings that only Temporal records, because the workflow was stopped from outside and ran no more code. */
export type ExternalEnding = 'terminated' | 'timed-out';

/** A workflow's status as `promote status` shows it: the workflow's own, or Temporal's ending where that differs. */
export type ShownStatus<T extends { state: string }> = Omit<T, 'state'> & {
  state: T['state'] | ExternalEnding;
  /** Source of the status when it is not the workflow's own complete record. */
  note?: string;
};

/** How long the status query of a closed workflow may wait: a worker replays the history to handle it. */
export const CLOSED_QUERY_DEADLINE_MS = 5_000;

/** State shown for each closed execution status that is not a completion (which returns the workflow's status). */
const ENDINGS: Partial<Record<string, ReleaseState | RollbackState | ExternalEnding>> = {
  CANCELLED: 'cancelled',
  TERMINATED: 'terminated',
  TIMED_OUT: 'timed-out',
  FAILED: 'failed',
};

/** Returns the state that Temporal's record of a closed execution stands for; meant for runs that did not complete. */
export function endingOf(description: WorkflowExecutionDescription): ReleaseState | RollbackState | ExternalEnding {
  return ENDINGS[description.status.name] ?? 'failed';
}

/**
 * Reads the status of a closed execution that did not complete. The status query, which a worker handles by
 * replaying the history, gives the stages and approvals; its state is replaced by Temporal's ending. Without a
 * worker (or when the replay fails) the status is built from the description and the last search attributes, and
 * `note` says so.
 */
export async function readEndedStatus<S extends { state: string; failure?: string }>(
  client: Client,
  handle: WorkflowHandle,
  description: WorkflowExecutionDescription,
  kind: 'release' | 'rollback',
): Promise<ShownStatus<S>> {
  const ending = endingOf(description);
  let queried: S | undefined;
  try {
    const name = kind === 'release' ? releaseStatusQuery.name : rollbackStatusQuery.name;
    queried = await client.withDeadline(Date.now() + CLOSED_QUERY_DEADLINE_MS, () => handle.query<S>(name));
  } catch {
    // No worker within the deadline, or the replay failed: Temporal's record still says how the run ended.
    queried = undefined;
  }

  if (queried) {
    const failure =
      queried.failure ?? (ending === queried.state ? undefined : `the workflow ${describeEnding(ending)}`);
    return { ...queried, state: ending, ...(failure ? { failure } : {}) };
  }
  return fromDescription(description, kind, ending) as unknown as ShownStatus<S>;
}

function describeEnding(ending: string): string {
  return ending === 'timed-out' || ending === 'failed' ? ending.replace('-', ' ') : `was ${ending}`;
}

function fromDescription(
  description: WorkflowExecutionDescription,
  kind: 'release' | 'rollback',
  ending: string,
): Record<string, unknown> {
  const attributes = description.typedSearchAttributes;
  const common = {
    pipeline: attributes.get(PIPELINE_ATTRIBUTE) ?? 'unknown',
    state: ending,
    currentStep: ending,
    refusedApprovals: [],
    startedAt: description.startTime.toISOString(),
    finishedAt: description.closeTime?.toISOString(),
    failure: `the workflow ${describeEnding(ending)}; the last state it recorded was ${attributes.get(STATE_ATTRIBUTE) ?? 'none'}`,
    note:
      "built from Temporal's record of the execution because no worker answered the status query; " +
      "start one with 'promote worker' for stages, approvals and hook results",
  };
  if (kind === 'rollback') {
    return {
      rollbackId: description.workflowId,
      stage: attributes.get(STAGE_ATTRIBUTE) ?? 'unknown',
      requestedBy: 'unknown',
      requiredApprovals: 0,
      approvals: [],
      ...common,
    };
  }
  return {
    releaseId: description.workflowId,
    source: '',
    digest: attributes.get(DIGEST_ATTRIBUTE),
    startedBy: 'unknown',
    force: false,
    currentStage: attributes.get(STAGE_ATTRIBUTE),
    stages: [],
    ...common,
  };
}
