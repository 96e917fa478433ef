/**
 * The client side of the chaos run: starts the releases on schedule, approves every release that waits for an
 * approval, waits until all releases have closed, and collects their results and the stage ledgers. Every call
 * to Temporal is retried, because the server restarts under it.
 */
import { type Client, WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { Pipeline } from '../../src/config/schema';
import type { RegistryClient } from '../../src/oci/client';
import { approveRelease, getStageLedger, getStageLock, startRelease } from '../../src/temporal/releases';
import { DIGEST_ATTRIBUTE, STAGE_ATTRIBUTE } from '../../src/temporal/search-attributes';
import type { LedgerEntry, ReleaseStatus, StageLockState } from '../../workflows/messages';
import { APPROVER, PIPELINE_NAME, STARTED_BY, TARGET_STAGES, type TargetStage } from './plan';

/** A release as the run started it. */
export interface StartedRelease {
  index: number;
  tag: string;
  digest: string;
  workflowId: string;
}

/** Ending of a release: its final status, a workflow that failed without one, or still running at the deadline. */
export type ReleaseOutcome =
  | { kind: 'closed'; status: ReleaseStatus }
  | { kind: 'workflow-failed'; message: string }
  | { kind: 'stuck'; status?: ReleaseStatus };

/** Waits between retries of a Temporal call while the server is down. */
const RETRY_DELAY_MS = 1_000;
const POLL_INTERVAL_MS = 2_000;

/** Runs `call` until it succeeds, for at most `attempts` tries one second apart. */
export async function retried<T>(what: string, call: () => Promise<T>, attempts = 120): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= attempts) {
        throw new Error(`${what} failed ${attempts} times; last error: ${(error as Error).message}`, { cause: error });
      }
      await sleep(RETRY_DELAY_MS);
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Starts one release from `host/repository:tag` through the product's start helper. */
export async function startOne(
  client: Client,
  registry: RegistryClient,
  pipeline: Pipeline,
  source: string,
): Promise<{ workflowId: string; digest: string }> {
  const started = await retried(`starting the release of ${source}`, () =>
    startRelease(client, { pipeline, source, startedBy: STARTED_BY }, registry),
  );
  return { workflowId: started.workflowId, digest: started.digest };
}

/**
 * Approves prod for every release that waits for it, until `stop` is called. Releases are found through the
 * search attributes the workflow keeps (state, stage, digest). An approval goes out as an update, so a rejection
 * comes back at once. A rejection because the approver already approved means that an earlier update went through
 * although its reply was lost.
 */
export class AutoApprover {
  approvals = 0;
  readonly refusals: string[] = [];
  private readonly done = new Set<string>();
  private readonly inFlight = new Set<string>();
  private stopped = false;
  private loop?: Promise<void>;

  constructor(
    private readonly client: Client,
    private readonly log: (message: string) => void,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    const query =
      `PromotePipeline = '${PIPELINE_NAME}' AND PromoteState = 'awaiting-approval' ` +
      `AND ExecutionStatus = 'Running'`;
    while (!this.stopped) {
      try {
        for await (const execution of this.client.workflow.list({ query })) {
          const stage = execution.typedSearchAttributes.get(STAGE_ATTRIBUTE);
          const digest = execution.typedSearchAttributes.get(DIGEST_ATTRIBUTE);
          const key = `${execution.workflowId}/${stage}`;
          if (stage && digest && !this.done.has(key) && !this.inFlight.has(key)) {
            this.inFlight.add(key);
            void this.approve(execution.workflowId, stage, digest, key);
          }
        }
      } catch {
        // The server is restarting; the next round lists again.
      }
      await sleep(POLL_INTERVAL_MS);
    }
  }

  private async approve(workflowId: string, stage: string, digest: string, key: string): Promise<void> {
    try {
      await approveRelease(this.client, workflowId, {
        stage,
        digest,
        person: APPROVER,
        comment: 'approved by the chaos run',
      });
      this.approvals += 1;
      this.done.add(key);
    } catch (error) {
      if (error instanceof WorkflowUpdateFailedError) {
        const reason = error.cause?.message ?? error.message;
        if (/already approved/i.test(reason)) {
          this.done.add(key);
        } else {
          this.refusals.push(`${workflowId} ${stage}: ${reason}`);
          this.log(`approval of ${stage} for ${workflowId} refused: ${reason}`);
        }
      }
      // Anything else (server restarting, no worker yet) is retried on a later round.
    } finally {
      this.inFlight.delete(key);
    }
  }
}

/** Waits until every release has closed or the deadline passes; returns the IDs still running. */
export async function waitForReleases(
  client: Client,
  releases: StartedRelease[],
  deadline: number,
  log: (message: string) => void,
): Promise<string[]> {
  let open = releases.map((release) => release.workflowId);
  let lastReport = 0;
  while (open.length > 0 && Date.now() < deadline) {
    const stillOpen: string[] = [];
    for (const workflowId of open) {
      try {
        const description = await client.workflow.getHandle(workflowId).describe();
        if (description.status.name === 'RUNNING') {
          stillOpen.push(workflowId);
        }
      } catch {
        stillOpen.push(workflowId);
      }
    }
    open = stillOpen;
    if (Date.now() - lastReport > 30_000 && open.length > 0) {
      log(`${releases.length - open.length}/${releases.length} releases closed`);
      lastReport = Date.now();
    }
    if (open.length > 0) {
      await sleep(POLL_INTERVAL_MS);
    }
  }
  return open;
}

/** Reads how each release ended: the workflow's result, or its status query when it still runs. */
export async function collectOutcomes(
  client: Client,
  releases: StartedRelease[],
  stuck: Set<string>,
): Promise<Map<string, ReleaseOutcome>> {
  const outcomes = new Map<string, ReleaseOutcome>();
  for (const release of releases) {
    const handle = client.workflow.getHandle<() => Promise<ReleaseStatus>>(release.workflowId);
    if (stuck.has(release.workflowId)) {
      const status = await handle.query<ReleaseStatus>('status').catch(() => undefined);
      outcomes.set(release.workflowId, { kind: 'stuck', status });
    } else {
      outcomes.set(release.workflowId, await readResult(handle));
    }
  }
  return outcomes;
}

/**
 * Returns the result of a closed release. A workflow that failed, was terminated or timed out has no result;
 * result() throws WorkflowFailedError for it, and retrying cannot change that. Other errors are retried.
 */
async function readResult(handle: {
  result: () => Promise<ReleaseStatus>;
  workflowId: string;
}): Promise<ReleaseOutcome> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return { kind: 'closed', status: await handle.result() };
    } catch (error) {
      if (error instanceof WorkflowFailedError) {
        const cause = error.cause;
        return { kind: 'workflow-failed', message: cause ? `${error.message}: ${cause.message}` : error.message };
      }
      if (attempt >= 60) {
        throw new Error(`reading the result of ${handle.workflowId} failed: ${(error as Error).message}`);
      }
      await sleep(RETRY_DELAY_MS);
    }
  }
}

/** Ledgers and lock states of the target stages, read through the stage workflows' queries. */
export async function readStages(
  client: Client,
): Promise<{ ledgers: Map<TargetStage, LedgerEntry[]>; locks: Map<TargetStage, StageLockState | undefined> }> {
  const ledgers = new Map<TargetStage, LedgerEntry[]>();
  const locks = new Map<TargetStage, StageLockState | undefined>();
  for (const stage of TARGET_STAGES) {
    ledgers.set(
      stage,
      await retried(`reading the ledger of ${stage}`, () => getStageLedger(client, PIPELINE_NAME, stage), 60),
    );
    locks.set(
      stage,
      await retried(`reading the lock of ${stage}`, () => getStageLock(client, PIPELINE_NAME, stage), 60),
    );
  }
  return { ledgers, locks };
}
