/**
 * Approval gates of a release or rollback. Decisions arrive as signals (fire and forget) or updates (the caller
 * learns at once whether it was accepted); both run the same checks. Decisions for a stage the workflow has not
 * reached yet are kept, so an approver may approve prod while the release is still in test.
 */
import { condition, log, setHandler } from '@temporalio/workflow';
import type { Approval } from '../src/config/schema';
import {
  type ApprovalInput,
  type ApprovalRecord,
  type ApprovalResult,
  approveSignal,
  approveUpdate,
  type RefusedApproval,
  rejectSignal,
  rejectUpdate,
} from './messages';

/** Refused decisions kept for the status; older ones are dropped so that a noisy bot cannot grow the state. */
const MAX_REFUSED = 50;

type Decision = ApprovalRecord['decision'];

/** The facts about the guarded workflow that the checks use. */
export interface GateSubject {
  /** Gated and ungated stages by name; a stage missing here is unknown. */
  gates: Map<string, Approval | undefined>;
  /** Person who started the workflow; they may approve only where `allowSelfApproval` is set. */
  startedBy: string;
  /** Digest every decision must name; undefined while the workflow does not know it yet. */
  digest: () => string | undefined;
  /** Returns why the workflow takes no more decisions (it has ended), or undefined while it does. */
  closedReason: () => string | undefined;
}

/** Outcome of waiting at a gate. */
export type GateOutcome =
  { decision: 'approved' } | { decision: 'rejected'; by: ApprovalRecord } | { decision: 'expired' };

/** Approvals and rejections per stage, with the message handlers that collect them. */
export class ApprovalGates {
  private readonly records = new Map<string, ApprovalRecord[]>();
  private readonly decided = new Map<string, string>();
  readonly refused: RefusedApproval[] = [];

  constructor(private readonly subject: GateSubject) {}

  /** Registers the approve and reject signals and updates. Call once, before the workflow's first await. */
  registerHandlers(): void {
    setHandler(approveSignal, (input) => this.receiveSignal(input, 'approved'));
    setHandler(rejectSignal, (input) => this.receiveSignal(input, 'rejected'));
    setHandler(approveUpdate, (input) => this.record(input, 'approved'), {
      validator: (input: ApprovalInput) => this.validate(input, 'approved'),
    });
    setHandler(rejectUpdate, (input) => this.record(input, 'rejected'), {
      validator: (input: ApprovalInput) => this.validate(input, 'rejected'),
    });
  }

  /** Accepted decisions for a stage, in arrival order. */
  recordsFor(stage: string): ApprovalRecord[] {
    return this.records.get(stage) ?? [];
  }

  /**
   * Waits until the stage has its required distinct approvals, one rejection, or the gate's timeout passes.
   * Afterwards the stage takes no more decisions.
   */
  async wait(stage: string): Promise<GateOutcome> {
    const gate = this.subject.gates.get(stage);
    if (!gate) {
      return { decision: 'approved' };
    }
    const settled = () => this.rejection(stage) !== undefined || this.approvalCount(stage) >= gate.required;
    const inTime = await condition(settled, gate.timeout);
    const rejection = this.rejection(stage);
    let outcome: GateOutcome;
    if (rejection) {
      outcome = { decision: 'rejected', by: rejection };
    } else if (inTime) {
      outcome = { decision: 'approved' };
    } else {
      outcome = { decision: 'expired' };
    }
    this.decided.set(stage, outcome.decision);
    return outcome;
  }

  /** Marks a stage as settled without waiting, so later decisions for it are refused with `reason`. */
  close(stage: string, reason: string): void {
    if (!this.decided.has(stage)) {
      this.decided.set(stage, reason);
    }
  }

  private approvalCount(stage: string): number {
    return this.recordsFor(stage).filter((record) => record.decision === 'approved').length;
  }

  private rejection(stage: string): ApprovalRecord | undefined {
    return this.recordsFor(stage).find((record) => record.decision === 'rejected');
  }

  /** Returns why a decision is refused, or undefined when it is acceptable. */
  check(input: ApprovalInput, decision: Decision): string | undefined {
    const closed = this.subject.closedReason();
    if (closed) {
      return closed;
    }
    if (!this.subject.gates.has(input.stage)) {
      return `unknown stage "${input.stage}"; stages with an approval gate: ${this.gatedStages()}`;
    }
    const gate = this.subject.gates.get(input.stage);
    if (!gate) {
      return `stage "${input.stage}" has no approval gate; stages with one: ${this.gatedStages()}`;
    }
    const expected = this.subject.digest();
    if (expected === undefined) {
      return 'the digest is not known yet; retry once the status shows it';
    }
    if (input.digest !== expected) {
      return `digest ${input.digest} is not the digest under approval; expected ${expected}`;
    }
    if (!gate.approvers.includes(input.person)) {
      return `"${input.person}" is not an approver of stage "${input.stage}"; approvers: ${gate.approvers.join(', ')}`;
    }
    const settled = this.decided.get(input.stage);
    if (settled !== undefined) {
      return `stage "${input.stage}" takes no more decisions (${settled})`;
    }
    if (decision === 'rejected') {
      return undefined;
    }
    if (input.person === this.subject.startedBy && !gate.allowSelfApproval) {
      return `"${input.person}" started this workflow and stage "${input.stage}" does not allow self-approval`;
    }
    if (this.recordsFor(input.stage).some((record) => record.person === input.person)) {
      return `"${input.person}" has already decided on stage "${input.stage}"`;
    }
    return undefined;
  }

  private gatedStages(): string {
    const names = [...this.subject.gates].filter(([, gate]) => gate !== undefined).map(([name]) => name);
    return names.length > 0 ? names.join(', ') : 'none';
  }

  private validate(input: ApprovalInput, decision: Decision): void {
    const reason = this.check(input, decision);
    if (reason !== undefined) {
      // A validator's error rejects the update without writing anything to history; the caller gets the message.
      throw new Error(reason);
    }
  }

  private receiveSignal(input: ApprovalInput, decision: Decision): void {
    const reason = this.check(input, decision);
    if (reason === undefined) {
      this.record(input, decision);
      return;
    }
    log.warn('Approval signal rejected', { stage: input.stage, person: input.person, decision, reason });
    this.refused.push({ person: input.person, stage: input.stage, decision, reason, at: new Date().toISOString() });
    if (this.refused.length > MAX_REFUSED) {
      this.refused.splice(0, this.refused.length - MAX_REFUSED);
    }
  }

  private record(input: ApprovalInput, decision: Decision): ApprovalResult {
    const records = this.recordsFor(input.stage);
    // Workflow time (`new Date()` in the sandbox) is the same on every replay.
    const record: ApprovalRecord = { person: input.person, decision, at: new Date().toISOString() };
    if (input.comment) {
      record.comment = input.comment;
    }
    this.records.set(input.stage, [...records, record]);
    log.info('Approval recorded', { stage: input.stage, person: input.person, decision });
    return {
      stage: input.stage,
      decision,
      approvals: this.approvalCount(input.stage),
      required: this.subject.gates.get(input.stage)?.required ?? 0,
    };
  }
}
