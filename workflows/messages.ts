/**
 * Inputs, results, and the signal, update and query definitions of the release, stage and rollback
 * workflows. Clients (the CLI, tests) import this file too, so it holds only definitions and plain types:
 * no workflow logic and nothing that needs the workflow sandbox.
 *
 * Times are ISO 8601 strings taken from workflow time, so they are the same on every replay.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Pipeline } from '../src/config/schema';

// ---------------------------------------------------------------------------------------------------------------------
// Release

/** Input of the release workflow. */
export interface ReleaseInput {
  /** The pipeline as validated by `pipelineSchema`, defaults applied. */
  pipeline: Pipeline;
  /**
   * Source image, pinned to its digest by the starter (`registry/repo:tag@sha256:…`). The workflow resolves it
   * again as its first step and ends as failed when the registry returns another digest.
   */
  source: string;
  /** Person or system that started the release; they may not approve it unless a gate allows self-approval. */
  startedBy: string;
  /** Whether the starter asked to release a digest that was released before. Recorded in the status only. */
  force?: boolean;
}

/** State of a release, running or final. */
export type ReleaseState =
  'running' | 'awaiting-approval' | 'completed' | 'failed' | 'superseded' | 'expired' | 'rejected' | 'cancelled';

/** Release states after which nothing changes any more. */
export const FINAL_RELEASE_STATES: readonly ReleaseState[] = [
  'completed',
  'failed',
  'superseded',
  'expired',
  'rejected',
  'cancelled',
];

/** State of one stage within a release. */
export type StageState =
  /** Not reached yet. */
  | 'pending'
  | 'awaiting-approval'
  | 'waiting-for-lock'
  | 'copying'
  | 'tagging'
  | 'testing'
  /** Promoted; the release waits for the stage's soak time before going on. */
  | 'soaking'
  | 'promoted'
  /** A step failed and the stage's tags were moved back. */
  | 'rolled-back'
  /** A step failed and moving the tags back failed too; `failure` names the tags left on the new digest. */
  | 'rollback-failed'
  | 'superseded'
  | 'rejected'
  | 'expired'
  | 'cancelled'
  /** The release ended before reaching this stage. */
  | 'skipped';

/** An approval or rejection of one stage, for one digest, by one person. */
export interface ApprovalInput {
  /** Stage the decision is for; it must have an approval gate. */
  stage: string;
  /** Digest the person looked at; it must equal the release's (or the rollback's target) digest. */
  digest: string;
  /** Who decides; must be one of the gate's approvers. */
  person: string;
  comment?: string;
}

/** A decision that was accepted. */
export interface ApprovalRecord {
  person: string;
  decision: 'approved' | 'rejected';
  comment?: string;
  at: string;
}

/** A decision that was refused, kept so that senders of fire-and-forget signals can see why. */
export interface RefusedApproval {
  person: string;
  stage: string;
  decision: 'approved' | 'rejected';
  reason: string;
  at: string;
}

/** Result of an accepted approve or reject update. */
export interface ApprovalResult {
  stage: string;
  decision: 'approved' | 'rejected';
  /** Distinct approvals the stage has now, this one included. */
  approvals: number;
  required: number;
}

/** Outcome of one test hook run. */
export interface HookResult {
  name: string;
  kind: 'command' | 'http';
  passed: boolean;
  /** Exit code of a command hook; absent when it was killed or could not start. */
  exitCode?: number;
  /** Signal that ended a command hook, such as SIGKILL after the timeout. */
  signal?: string;
  /** HTTP status of an HTTP hook. */
  status?: number;
  timedOut: boolean;
  durationMs: number;
  /** stdout and stderr of a command, or the response body of an HTTP hook, cut to the first bytes. */
  output: string;
  outputTruncated: boolean;
  /** Reason the hook could not run at all (program not found, connection refused). */
  error?: string;
}

/** One stage as the status query shows it. */
export interface StageStatus {
  name: string;
  repository: string;
  environmentTag: string;
  state: StageState;
  /** Digest the environment tag held before this release moved it; null when the tag did not exist. */
  previousDigest?: string | null;
  /** Tags this release pointed at its digest in this stage. */
  tagsMoved: string[];
  /** Approvals needed; 0 when the stage has no gate. */
  requiredApprovals: number;
  approvals: ApprovalRecord[];
  hooks: HookResult[];
  startedAt?: string;
  finishedAt?: string;
  failure?: string;
  /** Reason the release ended before this stage although nothing failed: the stage's `when` rule did not hold. */
  stoppedBy?: string;
}

/** The full state of a release, returned by `releaseStatusQuery` and as the workflow's result. */
export interface ReleaseStatus {
  releaseId: string;
  pipeline: string;
  source: string;
  /** Source digest; known from the pinned source before the first step confirms it. */
  digest?: string;
  startedBy: string;
  force: boolean;
  state: ReleaseState;
  /** Current activity of the release in a few words (`copying to staging`). */
  currentStep: string;
  /** Stage the release is in, or reached last. */
  currentStage?: string;
  /** Target stages in pipeline order; the source stage is not listed because nothing is moved there. */
  stages: StageStatus[];
  /** Approvals and rejections that were refused, newest last; only the last few are kept. */
  refusedApprovals: RefusedApproval[];
  startedAt: string;
  finishedAt?: string;
  /** Reason the release failed, expired, was rejected, superseded or cancelled. */
  failure?: string;
}

/** Approves a stage; fire and forget, for bots and CI. A refused approval is listed in `refusedApprovals`. */
export const approveSignal = defineSignal<[ApprovalInput]>('approve');
/** Rejects a stage, which ends the release (or rollback) as rejected; fire and forget. */
export const rejectSignal = defineSignal<[ApprovalInput]>('reject');
/** Approves a stage; the caller learns at once whether it was accepted, because a refusal fails the update. */
export const approveUpdate = defineUpdate<ApprovalResult, [ApprovalInput]>('approve');
/** Rejects a stage; a refusal fails the update with its reason. */
export const rejectUpdate = defineUpdate<ApprovalResult, [ApprovalInput]>('reject');
/** The release's full state. */
export const releaseStatusQuery = defineQuery<ReleaseStatus>('status');

// ---------------------------------------------------------------------------------------------------------------------
// Stage lock and ledger

/** Kind of change a ledger entry records. */
export type LedgerEntryKind = 'promoted' | 'rolled-back' | 'manual-rollback';

/** One change of a stage's environment tag, in the stage's ledger. */
export interface LedgerEntry {
  /** Unique per entry, so that a repeated signal is recorded once. */
  id: string;
  kind: LedgerEntryKind;
  /**
   * The digest the entry is about: the promoted digest, the digest whose promotion was rolled back, or the target
   * of a manual rollback.
   */
  digest: string;
  /** Digest of the environment tag after this entry; null when the tag is absent. */
  environmentDigest: string | null;
  /** Digest of the environment tag before this entry; null when the tag did not exist. */
  previousDigest: string | null;
  /** ID of the release or rollback workflow that made the change. */
  workflowId: string;
  runId: string;
  /** Person or system that started the workflow. */
  by: string;
  at: string;
  /** Start time of the release (milliseconds since the epoch); decides which of two releases is newer. */
  releaseStartedAt?: number;
  tags: string[];
  approvals: ApprovalRecord[];
  /** Hook results with output cut short, so a ledger of a few hundred entries stays small. */
  hooks: HookResult[];
  /** Reason a promotion was rolled back, or the reason given for a manual rollback. */
  reason?: string;
}

/** A request for a stage's lock, sent by a release or rollback workflow. */
export interface LockRequest {
  workflowId: string;
  runId: string;
  kind: 'release' | 'rollback';
  digest: string;
  requestedAt: string;
}

/** Sent by the stage workflow to the requester when it holds the lock. */
export interface LockGrant {
  stage: string;
  /** The newest release (by start time) ever promoted into the stage; a release older than it is superseded. */
  newestPromotion?: { workflowId: string; digest: string; releaseStartedAt: number };
  /** The ledger's last entry, which records the stage's current digest. */
  head?: LedgerEntry;
}

/** Gives a lock back, or withdraws a request still queued; `entry` is appended to the ledger. */
export interface LockRelease {
  workflowId: string;
  runId: string;
  entry?: LedgerEntry;
}

/** Input of the stage workflow; continue-as-new carries the state forward in the same shape. */
export interface StageInput {
  pipeline: string;
  stage: string;
  ledger?: LedgerEntry[];
  newestPromotion?: LockGrant['newestPromotion'];
  holder?: LockRequest;
  queue?: LockRequest[];
  /** History length after which the workflow continues as new; a default applies when absent. */
  maxHistoryEvents?: number;
  /** How often the workflow checks that its lock holder still runs, in milliseconds; a default applies when absent. */
  holderCheckIntervalMs?: number;
}

/** Lock holder and queue of a stage. */
export interface StageLockState {
  holder?: LockRequest & { grantedAt: string };
  queue: LockRequest[];
}

/** Asks for a stage's lock; the grant arrives as `lockGrantedSignal`. */
export const lockRequestSignal = defineSignal<[LockRequest]>('requestLock');
/** Gives the lock back (or leaves the queue) and appends the ledger entry, if any. */
export const lockReleaseSignal = defineSignal<[LockRelease]>('releaseLock');
/** Sent to a release or rollback workflow: it now holds the stage's lock. */
export const lockGrantedSignal = defineSignal<[LockGrant]>('lockGranted');
/**
 * Sent by the stage workflow to its lock holder from time to time. Its only purpose is to fail when the holder
 * no longer runs (terminated, timed out), so that the lock is not held by a workflow that cannot give it back.
 */
export const lockHolderCheckSignal = defineSignal<[{ stage: string }]>('lockHolderCheck');
/** Ledger entries, oldest first; `limit` keeps only the newest. */
export const ledgerQuery = defineQuery<LedgerEntry[], [{ limit?: number }?]>('ledger');
/** Holder of the stage's lock and the queue of requests waiting for it. */
export const stageLockQuery = defineQuery<StageLockState>('lock');

// ---------------------------------------------------------------------------------------------------------------------
// Manual rollback

/** Input of the rollback workflow. */
export interface RollbackInput {
  pipeline: Pipeline;
  stage: string;
  /** Target digest; it must appear in the stage's ledger. The last good digest before the current one when absent. */
  to?: string;
  requestedBy: string;
  reason?: string;
}

/** State of a rollback, running or final. */
export type RollbackState =
  'running' | 'awaiting-approval' | 'waiting-for-lock' | 'completed' | 'failed' | 'rejected' | 'expired' | 'cancelled';

/** State of a rollback workflow, returned by `rollbackStatusQuery` and as its result. */
export interface RollbackStatus {
  rollbackId: string;
  pipeline: string;
  stage: string;
  requestedBy: string;
  state: RollbackState;
  currentStep: string;
  /** Digest the environment tag is moved to; known once the ledger was read. */
  targetDigest?: string;
  /** Digest the environment tag held before; known once the lock is held. */
  previousDigest?: string | null;
  requiredApprovals: number;
  approvals: ApprovalRecord[];
  refusedApprovals: RefusedApproval[];
  startedAt: string;
  finishedAt?: string;
  failure?: string;
}

/** The rollback's state. Approvals use the same signals and updates as releases, with the target digest. */
export const rollbackStatusQuery = defineQuery<RollbackStatus>('status');
