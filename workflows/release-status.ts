/**
 * The release's status as the query returns it, and the search attributes that mirror its stage and state.
 * Every change goes through this class, so the query and the search attributes never disagree.
 */
import { upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import {
  DIGEST_ATTRIBUTE,
  PIPELINE_ATTRIBUTE,
  STAGE_ATTRIBUTE,
  STATE_ATTRIBUTE,
} from '../src/temporal/search-attributes';
import type { ApprovalGates } from './approvals';
import { FINAL_RELEASE_STATES, type ReleaseInput, type ReleaseState, type ReleaseStatus } from './messages';
import type { StageState, StageStatus } from './messages';

/** Digest part of a reference pinned with `@algorithm:hex`, or undefined when it is not pinned. */
export function pinnedDigest(reference: string): string | undefined {
  const at = reference.lastIndexOf('@');
  return at < 0 ? undefined : reference.slice(at + 1);
}

/** Tag part of a reference (`host:5000/repo:tag@digest` gives `tag`), or undefined when it has none. */
export function sourceTag(reference: string): string | undefined {
  const at = reference.lastIndexOf('@');
  const name = at < 0 ? reference : reference.slice(0, at);
  const colon = name.indexOf(':', name.lastIndexOf('/') + 1);
  return colon < 0 ? undefined : name.slice(colon + 1);
}

/** Workflow time as ISO 8601; the sandbox makes `new Date()` return the same value on every replay. */
export function now(): string {
  return new Date().toISOString();
}

export class ReleaseTracker {
  private readonly status: ReleaseStatus;
  private gates?: ApprovalGates;

  constructor(input: ReleaseInput) {
    const info = workflowInfo();
    this.status = {
      releaseId: info.workflowId,
      pipeline: input.pipeline.name,
      source: input.source,
      digest: pinnedDigest(input.source),
      startedBy: input.startedBy,
      force: input.force ?? false,
      state: 'running',
      currentStep: 'starting',
      stages: input.pipeline.stages.slice(1).map((stage) => ({
        name: stage.name,
        repository: stage.repository,
        environmentTag: stage.environmentTag,
        state: 'pending',
        tagsMoved: [],
        requiredApprovals: stage.approval?.required ?? 0,
        approvals: [],
        hooks: [],
      })),
      refusedApprovals: [],
      startedAt: info.runStartTime.toISOString(),
    };
  }

  /** Connects the approval records, which the status shows per stage. */
  attachGates(gates: ApprovalGates): void {
    this.gates = gates;
  }

  get state(): ReleaseState {
    return this.status.state;
  }

  get digest(): string | undefined {
    return this.status.digest;
  }

  /** Returns the status with approvals filled in, as a copy so a caller cannot change the tracked state. */
  snapshot(): ReleaseStatus {
    const gates = this.gates;
    const stages = this.status.stages.map((stage) => ({
      ...stage,
      tagsMoved: [...stage.tagsMoved],
      hooks: [...stage.hooks],
      approvals: gates ? [...gates.recordsFor(stage.name)] : [],
    }));
    return { ...this.status, stages, refusedApprovals: gates ? [...gates.refused] : [] };
  }

  /** Sets the digest once the source is resolved, and the search attributes that name the release. */
  setDigest(digest: string): void {
    this.status.digest = digest;
    upsertSearchAttributes([
      { key: PIPELINE_ATTRIBUTE, value: this.status.pipeline },
      { key: DIGEST_ATTRIBUTE, value: digest },
      { key: STATE_ATTRIBUTE, value: this.status.state },
    ]);
  }

  stage(name: string): StageStatus {
    const stage = this.status.stages.find((candidate) => candidate.name === name);
    if (!stage) {
      throw new Error(`stage "${name}" is not a target stage of pipeline "${this.status.pipeline}"`);
    }
    return stage;
  }

  /** Records what the release does now, and in which stage. */
  step(description: string, stageName?: string): void {
    this.status.currentStep = description;
    if (stageName !== undefined && stageName !== this.status.currentStage) {
      this.status.currentStage = stageName;
      upsertSearchAttributes([{ key: STAGE_ATTRIBUTE, value: stageName }]);
    }
  }

  setStageState(name: string, state: StageState): void {
    const stage = this.stage(name);
    stage.state = state;
    if (stage.startedAt === undefined && state !== 'pending' && state !== 'skipped') {
      stage.startedAt = now();
    }
    if (isFinalStageState(state)) {
      stage.finishedAt = now();
    }
    this.setState(state === 'awaiting-approval' ? 'awaiting-approval' : 'running');
  }

  /** Ends the release: stages not reached become skipped. */
  finish(state: ReleaseState, failure?: string): void {
    for (const stage of this.status.stages) {
      if (stage.state === 'pending') {
        stage.state = 'skipped';
      }
    }
    this.status.failure = failure;
    this.status.finishedAt = now();
    this.status.currentStep = state;
    this.setState(state);
  }

  isFinished(): boolean {
    return FINAL_RELEASE_STATES.includes(this.status.state);
  }

  private setState(state: ReleaseState): void {
    if (this.status.state === state) {
      return;
    }
    this.status.state = state;
    upsertSearchAttributes([{ key: STATE_ATTRIBUTE, value: state }]);
  }
}

function isFinalStageState(state: StageState): boolean {
  return !['pending', 'awaiting-approval', 'waiting-for-lock', 'copying', 'tagging', 'testing', 'soaking'].includes(
    state,
  );
}
