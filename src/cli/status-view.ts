/** Reads the status of a release or rollback workflow and formats it for people. */
import {
  type Client,
  isGrpcCancelledError,
  isGrpcDeadlineError,
  isGrpcServiceError,
  type WorkflowExecutionDescription,
  WorkflowNotFoundError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import {
  FINAL_RELEASE_STATES,
  type ReleaseStatus,
  releaseStatusQuery,
  type RollbackStatus,
  rollbackStatusQuery,
  type StageStatus,
} from '../../workflows/messages';
import { CliError, ExitCode } from './exit-codes';
import { readEndedStatus, type ShownStatus } from './status-closed';
import { type Fact, formatFacts, formatTable, formatTime, shortDigest } from './output';

/** Status of either kind of workflow a person can follow with `promote status`. */
export type WorkflowStatus =
  { kind: 'release'; status: ShownStatus<ReleaseStatus> } | { kind: 'rollback'; status: ShownStatus<RollbackStatus> };

/** How long a query or update may wait for a worker to handle it. */
export const WORKER_DEADLINE_MS = 15_000;

const FINAL_ROLLBACK_STATES = ['completed', 'failed', 'rejected', 'expired', 'cancelled'];
const EXTERNAL_ENDINGS = ['terminated', 'timed-out'];

/** Checks whether the workflow reached a state after which nothing changes. */
export function isFinal(view: WorkflowStatus): boolean {
  const finalStates: readonly string[] = view.kind === 'release' ? FINAL_RELEASE_STATES : FINAL_ROLLBACK_STATES;
  return finalStates.includes(view.status.state) || EXTERNAL_ENDINGS.includes(view.status.state);
}

/** Exit code for a finished workflow: 0 when it completed, 1 for every other ending. */
export function exitCodeForFinalState(view: WorkflowStatus): ExitCode {
  return view.status.state === 'completed' ? ExitCode.Success : ExitCode.Failure;
}

/** Checks whether a workflow ID names a rollback rather than a release. */
export function isRollbackId(id: string): boolean {
  return id.startsWith('rollback-');
}

/**
 * Reads a workflow's status. A running workflow returns it from the status query, which needs a worker. A completed
 * one is read from its result, which the server keeps, so it needs no worker. A cancelled, terminated or timed-out
 * one has no result, so its state is Temporal's ending and the rest comes from the query when a worker answers it.
 */
export async function readWorkflowStatus(client: Client, id: string): Promise<WorkflowStatus> {
  const handle = client.workflow.getHandle(id);
  const kind = isRollbackId(id) ? 'rollback' : 'release';
  let description: WorkflowExecutionDescription;
  try {
    description = await handle.describe();
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) {
      throw new CliError(
        ExitCode.BadInput,
        `${kind} ${id} not found in namespace ${client.options.namespace}; ` +
          "expected an ID that 'promote start' or 'promote list' printed",
        { cause: error },
      );
    }
    throw error;
  }

  const execution = description.status.name;
  if (execution === 'COMPLETED') {
    const status: unknown = await handle.result();
    return { kind, status } as WorkflowStatus;
  }
  if (execution !== 'RUNNING') {
    return kind === 'rollback'
      ? { kind, status: await readEndedStatus<RollbackStatus>(client, handle, description, kind) }
      : { kind, status: await readEndedStatus<ReleaseStatus>(client, handle, description, kind) };
  }
  try {
    return await withWorkerDeadline(client, `the status query of ${id}`, async () =>
      kind === 'rollback'
        ? { kind, status: await handle.query(rollbackStatusQuery) }
        : { kind, status: await handle.query(releaseStatusQuery) },
    );
  } catch (error) {
    const details = grpcDetailsOf(error);
    if (error instanceof CliError || details === undefined) {
      throw error;
    }
    // The server rejects a query it cannot dispatch, for example because the run closed after the describe.
    const again = await handle.describe();
    if (again.status.name !== 'RUNNING') {
      return await readWorkflowStatus(client, id);
    }
    throw new CliError(
      ExitCode.Unreachable,
      `no worker answered the status query of ${id} (${details}); start one with 'promote worker', ` +
        "or read the worker's log if one runs",
      { cause: error },
    );
  }
}

/** Returns the details of the gRPC error a Temporal client error wraps, or undefined for any other error. */
export function grpcDetailsOf(error: unknown): string | undefined {
  let current: unknown = error;
  while (current instanceof Error) {
    if (isGrpcServiceError(current)) {
      return current.details;
    }
    current = current.cause;
  }
  return undefined;
}

/**
 * Runs a call that a worker must handle (a query, an update) with a deadline. Without a worker the server
 * holds such a call until the gRPC deadline, so a person would wait without learning why.
 */
export async function withWorkerDeadline<T>(client: Client, what: string, call: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + WORKER_DEADLINE_MS;
  try {
    return await client.withDeadline(deadline, call);
  } catch (error) {
    // With SDK 1.24, a query cut off by this deadline fails with gRPC CANCELLED, not DEADLINE_EXCEEDED.
    const expired = isGrpcDeadlineError(error) || (isGrpcCancelledError(error) && Date.now() >= deadline);
    if (expired || error instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
      throw new CliError(
        ExitCode.Unreachable,
        `no worker answered ${what} within ${WORKER_DEADLINE_MS / 1000} s; start one with 'promote worker'`,
        { cause: error },
      );
    }
    throw error;
  }
}

function describeApprovals(stage: StageStatus): string {
  if (stage.requiredApprovals === 0) {
    return '-';
  }
  const approved = stage.approvals.filter((record) => record.decision === 'approved');
  const names = approved.map((record) => record.person).join(',');
  return `${approved.length}/${stage.requiredApprovals}${names ? ` ${names}` : ''}`;
}

function describeHooks(stage: StageStatus): string {
  if (stage.hooks.length === 0) {
    return '-';
  }
  return stage.hooks.map((hook) => `${hook.name}:${hook.passed ? 'passed' : 'failed'}`).join(',');
}

/** Number of lines of a failed hook's output in the text view. `--json` shows all the output the release keeps. */
const HOOK_OUTPUT_LINES = 3;

/**
 * Returns the last lines of each failed hook's output as facts, the first labelled with the hook, so the text view
 * shows why a hook failed. A line that redraws itself with carriage returns shows its last state.
 */
export function failedHookOutputFacts(stage: StageStatus, releaseId: string): Fact[] {
  const facts: Fact[] = [];
  for (const hook of stage.hooks.filter((candidate) => !candidate.passed)) {
    const lines = hook.output
      .split('\n')
      .map((line) => line.trimEnd().split('\r').at(-1) ?? '')
      .filter((line) => line.length > 0);
    const lastLines = lines.slice(-HOOK_OUTPUT_LINES);
    lastLines.forEach((line, index) => facts.push([index === 0 ? `hook ${hook.name} output` : '', line]));
    if (lastLines.length > 0 && (lastLines.length < lines.length || hook.outputTruncated)) {
      facts.push(['', `(earlier lines: promote status ${releaseId} --json)`]);
    }
  }
  return facts;
}

/** Formats a release's status: facts, one line each, then a table of its stages. */
export function formatReleaseStatus(status: ShownStatus<ReleaseStatus>): string {
  const facts: Fact[] = [
    ['release', status.releaseId],
    ['pipeline', status.pipeline],
    ['source', status.source],
    ['digest', status.digest],
    ['state', status.state],
    ['step', status.currentStep],
    ['stage', status.currentStage],
    ['started', `${formatTime(status.startedAt)} by ${status.startedBy}`],
    ['finished', status.finishedAt ? formatTime(status.finishedAt) : undefined],
    ['forced', status.force ? 'yes' : undefined],
    ['failure', status.failure],
    ['note', status.note],
  ];
  for (const refused of status.refusedApprovals) {
    facts.push(['refused', `${refused.person} ${refused.decision} ${refused.stage}: ${refused.reason}`]);
  }
  for (const stage of status.stages) {
    if (stage.failure) {
      facts.push([`${stage.name} failure`, stage.failure]);
      facts.push(...failedHookOutputFacts(stage, status.releaseId));
    }
    if (stage.stoppedBy) {
      facts.push([`${stage.name} skipped`, stage.stoppedBy]);
    }
  }
  const table = formatTable(
    ['stage', 'state', 'approvals', 'previous', 'tags', 'hooks', 'finished'],
    status.stages.map((stage) => [
      stage.name,
      stage.state,
      describeApprovals(stage),
      shortDigest(stage.previousDigest),
      stage.tagsMoved.join(',') || '-',
      describeHooks(stage),
      formatTime(stage.finishedAt),
    ]),
  );
  return `${formatFacts(facts)}\n\n${table}`;
}

/** Formats a rollback's status, one fact per line. */
export function formatRollbackStatus(status: ShownStatus<RollbackStatus>): string {
  const approved = status.approvals.filter((record) => record.decision === 'approved').map((record) => record.person);
  const facts: Fact[] = [
    ['rollback', status.rollbackId],
    ['pipeline', status.pipeline],
    ['stage', status.stage],
    ['state', status.state],
    ['step', status.currentStep],
    ['target', status.targetDigest],
    ['previous', status.previousDigest],
    [
      'approvals',
      status.requiredApprovals > 0
        ? `${approved.length}/${status.requiredApprovals}${approved.length ? ` ${approved.join(',')}` : ''}`
        : undefined,
    ],
    ['started', `${formatTime(status.startedAt)} by ${status.requestedBy}`],
    ['finished', status.finishedAt ? formatTime(status.finishedAt) : undefined],
    ['failure', status.failure],
    ['note', status.note],
  ];
  for (const refused of status.refusedApprovals) {
    facts.push(['refused', `${refused.person} ${refused.decision} ${refused.stage}: ${refused.reason}`]);
  }
  return formatFacts(facts);
}

/** Formats either kind of status. */
export function formatWorkflowStatus(view: WorkflowStatus): string {
  return view.kind === 'release' ? formatReleaseStatus(view.status) : formatRollbackStatus(view.status);
}
