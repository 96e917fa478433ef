/** Client-side helpers for releases and rollbacks, shared by the CLI, the demo and the tests. */
import { randomBytes } from 'node:crypto';
import { type Client, WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import type { Pipeline } from '../config/schema';
import type { RegistryClient } from '../oci/client';
import { Reference } from '../oci/reference';
import {
  type ApprovalInput,
  type ApprovalResult,
  approveUpdate,
  type LedgerEntry,
  ledgerQuery,
  rejectUpdate,
  type ReleaseInput,
  type ReleaseState,
  type ReleaseStatus,
  releaseStatusQuery,
  type RollbackInput,
  type StageLockState,
  stageLockQuery,
} from '../../workflows/messages';
import { RELEASE_WORKFLOW_TYPE, ROLLBACK_WORKFLOW_TYPE, TASK_QUEUE } from './constants';
import { releaseWorkflowId, rollbackWorkflowId, stageWorkflowId } from './ids';
import { PIPELINE_DIGEST_MEMO, pipelineDefinitionDigest } from './pipeline-digest';
import { DIGEST_ATTRIBUTE, PIPELINE_ATTRIBUTE, STAGE_ATTRIBUTE, STATE_ATTRIBUTE } from './search-attributes';

export interface StartReleaseOptions {
  pipeline: Pipeline;
  /** Source image reference, by tag or digest. */
  source: string;
  startedBy: string;
  /** Release the digest again although an earlier release of it has ended. */
  force?: boolean;
  /** Default: TASK_QUEUE. */
  taskQueue?: string;
  /**
   * Accepts a `tag@digest` source whose tag does not exist (yet). A registry may send the notification of a tagged
   * push before the tag can be read; a person's `promote start` must name a tag that exists.
   */
  allowMissingTag?: boolean;
}

export interface StartedRelease {
  workflowId: string;
  runId: string;
  digest: string;
  /** Source reference pinned to the digest, as the workflow received it. */
  source: string;
  /** True when a release of this digest was already running and was returned instead of starting one. */
  existing: boolean;
  /**
   * True when the running release that was returned started with another definition of the pipeline: other stages,
   * repositories or settings under the same name. False for a new release, and for a release started before
   * definitions were recorded.
   */
  definitionChanged: boolean;
}

/** Final state of an ended release, from its result. */
export interface ReleaseOutcome {
  state: ReleaseState;
  /** Stage the release was in when it ended. */
  stage?: string;
}

/** Thrown when the digest was released before (the release has ended) and `force` was not set. */
export class ReleaseAlreadyEndedError extends Error {
  /**
   * @param status Temporal's execution status of the ended release, such as `COMPLETED` or `TERMINATED`.
   * @param outcome The release's own state, read from its result. Only a completed execution has one.
   */
  constructor(
    readonly workflowId: string,
    readonly digest: string,
    readonly status: string,
    readonly outcome?: ReleaseOutcome,
  ) {
    super(
      `digest ${digest} was already released (${workflowId}, ${describeEnding(status, outcome)}); ` +
        'use --force to release it again',
    );
    this.name = 'ReleaseAlreadyEndedError';
  }
}

/**
 * Thrown when a source written as `repository:tag@digest` names a tag that points at another digest (a later push
 * moved it) or does not exist. The tag feeds `%n` tag templates and `when` tag rules, so a release must not carry a
 * tag its image does not have.
 */
export class SourceTagMismatchError extends Error {
  constructor(source: string, tagged: string | undefined) {
    super(
      `source ${source}: the tag ${tagged === undefined ? 'does not exist' : `points at ${tagged}`}, not at the ` +
        'digest given; expected a tag that names the digest (as CI pushed it), or the digest alone (then %n ' +
        'renders as latest and tag rules see no tag)',
    );
    this.name = 'SourceTagMismatchError';
  }
}

function describeEnding(status: string, outcome?: ReleaseOutcome): string {
  if (outcome === undefined) {
    return status.toLowerCase();
  }
  if (outcome.state === 'completed' || outcome.stage === undefined) {
    return outcome.state;
  }
  return `${outcome.state} in stage ${outcome.stage}`;
}

/**
 * Reads how an ended release finished. A release workflow completes, with its state in the result, whether the
 * release completed, failed or was rejected. A cancelled, terminated or timed-out execution has no result.
 */
async function readOutcome(client: Client, workflowId: string, status: string): Promise<ReleaseOutcome | undefined> {
  if (status !== 'COMPLETED') {
    return undefined;
  }
  const result = (await client.workflow.getHandle(workflowId).result()) as ReleaseStatus;
  return { state: result.state, stage: result.currentStage };
}

/**
 * Resolves the source to a digest and starts its release, or returns the release of that digest that is
 * already running (a CI retry attaches to it). The start uses the `FAIL` conflict policy and, when a run exists,
 * describes it: the SDK does not report whether a `USE_EXISTING` start created the run, and `existing` must
 * report it. A digest whose release has ended is refused unless `force` is set. The digest of the pipeline
 * definition goes into the workflow's memo, so that a later start can tell whether the running release follows
 * the same definition.
 */
export async function startRelease(
  client: Client,
  options: StartReleaseOptions,
  registry: RegistryClient,
): Promise<StartedRelease> {
  const reference = Reference.parse(options.source);
  const descriptor = await registry.resolve(reference);
  const digest = descriptor.digest;
  if (reference.tag !== undefined && reference.digest !== undefined) {
    const tagged = await registry.getTagDigest(reference.withTag(reference.tag));
    if (tagged !== digest && !(tagged === undefined && options.allowMissingTag)) {
      throw new SourceTagMismatchError(options.source, tagged);
    }
  }
  const pinned = reference.withDigest(digest).toString();
  const workflowId = releaseWorkflowId(options.pipeline.name, digest);
  const input: ReleaseInput = {
    pipeline: options.pipeline,
    source: pinned,
    startedBy: options.startedBy,
    force: options.force ?? false,
  };
  const definitionDigest = pipelineDefinitionDigest(options.pipeline);

  try {
    const handle = await client.workflow.start(RELEASE_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: options.taskQueue ?? TASK_QUEUE,
      args: [input],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: options.force ? 'ALLOW_DUPLICATE' : 'REJECT_DUPLICATE',
      memo: { [PIPELINE_DIGEST_MEMO]: definitionDigest },
      typedSearchAttributes: [
        { key: PIPELINE_ATTRIBUTE, value: options.pipeline.name },
        { key: DIGEST_ATTRIBUTE, value: digest },
        { key: STAGE_ATTRIBUTE, value: options.pipeline.stages[0].name },
        { key: STATE_ATTRIBUTE, value: 'running' },
      ],
    });
    return {
      workflowId,
      runId: handle.firstExecutionRunId,
      digest,
      source: pinned,
      existing: false,
      definitionChanged: false,
    };
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) {
      throw error;
    }
  }

  const description = await client.workflow.getHandle(workflowId).describe();
  const status = description.status.name;
  if (status !== 'RUNNING') {
    throw new ReleaseAlreadyEndedError(workflowId, digest, status, await readOutcome(client, workflowId, status));
  }
  const recorded = description.memo?.[PIPELINE_DIGEST_MEMO];
  return {
    workflowId,
    runId: description.runId,
    digest,
    source: pinned,
    existing: true,
    definitionChanged: typeof recorded === 'string' && recorded !== definitionDigest,
  };
}

/** Approves a stage of a release (or rollback); throws WorkflowUpdateFailedError with the reason when refused. */
export function approveRelease(client: Client, workflowId: string, approval: ApprovalInput): Promise<ApprovalResult> {
  return client.workflow.getHandle(workflowId).executeUpdate(approveUpdate, { args: [approval] });
}

/** Rejects a stage of a release (or rollback), which ends it as rejected. */
export function rejectRelease(client: Client, workflowId: string, rejection: ApprovalInput): Promise<ApprovalResult> {
  return client.workflow.getHandle(workflowId).executeUpdate(rejectUpdate, { args: [rejection] });
}

/** Returns a release's status; works on ended releases too while a worker runs. */
export function getReleaseStatus(client: Client, workflowId: string): Promise<ReleaseStatus> {
  return client.workflow.getHandle(workflowId).query(releaseStatusQuery);
}

/** Returns a stage's ledger, oldest entry first; `limit` keeps the newest entries only. */
export function getStageLedger(
  client: Client,
  pipeline: string,
  stage: string,
  limit?: number,
): Promise<LedgerEntry[]> {
  return client.workflow.getHandle(stageWorkflowId(pipeline, stage)).query(ledgerQuery, { limit });
}

/** Returns who holds a stage's lock and who waits for it. */
export function getStageLock(client: Client, pipeline: string, stage: string): Promise<StageLockState> {
  return client.workflow.getHandle(stageWorkflowId(pipeline, stage)).query(stageLockQuery);
}

/** Starts a manual rollback of one stage; the ID ends with the start time and a random suffix. */
export async function startRollback(
  client: Client,
  input: RollbackInput,
  taskQueue: string = TASK_QUEUE,
): Promise<WorkflowHandle> {
  const unique = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  return client.workflow.start(ROLLBACK_WORKFLOW_TYPE, {
    workflowId: rollbackWorkflowId(input.pipeline.name, input.stage, unique),
    taskQueue,
    args: [input],
    typedSearchAttributes: [
      { key: PIPELINE_ATTRIBUTE, value: input.pipeline.name },
      { key: STAGE_ATTRIBUTE, value: input.stage },
      { key: STATE_ATTRIBUTE, value: 'running' },
    ],
  });
}
