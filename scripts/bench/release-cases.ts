/**
 * The release cases, against a real Temporal dev server with one worker in this process: a four-stage release
 * (total time and time beyond the copies), and 100 releases started at once.
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import type { BenchImages, SourceImage } from './images';
import { expectTag } from './registry-check';
import type { ResultSet } from './results';
import { type Pipeline, pipelineSchema } from '../../src/config/schema';
import { RegistryClient } from '../../src/oci/client';
import { approveRelease, startRelease } from '../../src/temporal/releases';
import { createWorker } from '../../src/temporal/worker';
import type { ReleaseStatus } from '../../workflows/messages';
import { waitUntil } from '../lib/ports';
import type { LocalRegistry } from '../lib/registry';
import { FAST_TASK_DISPATCH, type LocalTemporalServer, startTemporalServer } from '../lib/temporal-server';

const TASK_QUEUE = 'bench';
const APPROVER = 'bench-approver';
const NO_OP_HOOK = { name: 'no-op', command: ['true'] };

/** A dev server, a client and one running worker. */
export class ReleaseEnvironment {
  private constructor(
    readonly server: LocalTemporalServer,
    readonly client: Client,
    private readonly connection: Connection,
    private readonly nativeConnection: NativeConnection,
    private readonly worker: Worker,
    private readonly running: Promise<void>,
    readonly registry: RegistryClient,
  ) {}

  /** Starts the environment; `serverDefaults` keeps the dev server's task dispatch rate as it ships. */
  static async start(serverDefaults: boolean): Promise<ReleaseEnvironment> {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    const server = await startTemporalServer({ dynamicConfig: serverDefaults ? {} : FAST_TASK_DISPATCH });
    const connection = await Connection.connect({ address: server.address });
    const nativeConnection = await NativeConnection.connect({ address: server.address });
    const client = new Client({ connection, namespace: 'default' });
    const worker = await createWorker({ connection: nativeConnection, client, taskQueue: TASK_QUEUE });
    const running = worker.run();
    await waitUntil('worker to run', () => Promise.resolve(worker.getState() === 'RUNNING'));
    return new ReleaseEnvironment(server, client, connection, nativeConnection, worker, running, new RegistryClient());
  }

  async stop(): Promise<void> {
    if (this.worker.getState() === 'RUNNING') {
      this.worker.shutdown();
    }
    await this.running;
    await this.registry.close();
    await this.nativeConnection.close();
    await this.connection.close();
    await this.server.stop();
  }

  /** Starts a release and returns its final status and the time from the start request to the end. */
  async release(pipeline: Pipeline, source: string, approvals: string[] = []) {
    const started = performance.now();
    const release = await startRelease(
      this.client,
      { pipeline, source, startedBy: 'bench', taskQueue: TASK_QUEUE },
      this.registry,
    );
    // Approvals for stages the release has not reached yet are kept, so they can all be sent at once.
    await Promise.all(
      approvals.map((stage) =>
        approveRelease(this.client, release.workflowId, { stage, digest: release.digest, person: APPROVER }),
      ),
    );
    const handle = this.client.workflow.getHandle(release.workflowId);
    const status = (await handle.result()) as ReleaseStatus;
    return { status, ms: performance.now() - started, handle, digest: release.digest };
  }
}

/** Builds a pipeline whose first stage is the image's repository and whose other stages are new repositories. */
function pipelineFor(
  name: string,
  registry: LocalRegistry,
  source: SourceImage,
  targets: { name: string; approval?: boolean }[],
): Pipeline {
  return pipelineSchema.parse({
    name,
    stages: [
      { name: 'dev', repository: `${registry.host}/${source.repository}`, environmentTag: 'dev' },
      ...targets.map((stage) => ({
        name: stage.name,
        repository: `${registry.host}/${name}/${stage.name}`,
        environmentTag: stage.name,
        hooks: [NO_OP_HOOK],
        ...(stage.approval ? { approval: { approvers: [APPROVER] } } : {}),
      })),
    ],
  });
}

/** Checks that the release completed and that every target stage's tag points at its digest. */
async function checkRelease(pipeline: Pipeline, status: ReleaseStatus, digest: string): Promise<void> {
  if (status.state !== 'completed') {
    throw new Error(`release of ${digest} in ${pipeline.name} ended ${status.state}: ${status.failure ?? ''}`);
  }
  for (const stage of pipeline.stages.slice(1)) {
    await expectTag(`${stage.repository}:${stage.environmentTag}`, digest, `release ${status.releaseId}`);
  }
}

/** Milliseconds from each copyImage activity's start to its completion, read from the workflow history. */
async function copyDurations(handle: ReturnType<Client['workflow']['getHandle']>): Promise<number[]> {
  const history = await handle.fetchHistory();
  const toMs = (time: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
    Number(time?.seconds ?? 0) * 1000 + (time?.nanos ?? 0) / 1e6;
  const copies = new Set<string>();
  const startedAt = new Map<string, number>();
  const durations: number[] = [];
  for (const event of history.events ?? []) {
    const id = String(event.eventId);
    if (event.activityTaskScheduledEventAttributes?.activityType?.name === 'copyImage') {
      copies.add(id);
    }
    const started = event.activityTaskStartedEventAttributes;
    if (started && copies.has(String(started.scheduledEventId))) {
      startedAt.set(String(started.scheduledEventId), toMs(event.eventTime));
    }
    const completed = event.activityTaskCompletedEventAttributes;
    if (completed && copies.has(String(completed.scheduledEventId))) {
      durations.push(toMs(event.eventTime) - (startedAt.get(String(completed.scheduledEventId)) ?? Number.NaN));
    }
  }
  return durations;
}

/**
 * `release-4`: dev → test → staging → prod on registry A, approval gates on staging and prod approved at once
 * by the benchmark, a no-op command hook in every target stage. Records the total and the time beyond the copies.
 */
export async function runFourStageRelease(
  environment: ReleaseEnvironment,
  registry: LocalRegistry,
  images: BenchImages,
  runs: number,
  results: ResultSet,
): Promise<void> {
  const source = await images.fiveByForty();
  console.log(`release-4: dev → test → staging → prod, 2 approval gates, 3 no-op hooks; ${source.image.digest}`);
  const targets = [{ name: 'test' }, { name: 'staging', approval: true }, { name: 'prod', approval: true }];
  for (let run = 0; run < runs; run += 1) {
    const pipeline = pipelineFor(`release-4-run${run}`, registry, source, targets);
    try {
      const { status, ms, handle, digest } = await environment.release(pipeline, source.reference, ['staging', 'prod']);
      await checkRelease(pipeline, status, digest);
      const copies = (await copyDurations(handle)).reduce((sum, value) => sum + value, 0);
      results.addRun('release-4', 'promote', ms);
      results.addDetail('release-4', 'promote', 'copies_ms', Math.round(copies));
      results.addDetail('release-4', 'promote', 'beyond_copies_ms', Math.round(ms - copies));
      console.log(`  run ${run + 1}/${runs}: ${ms.toFixed(0)} ms, of which copies ${copies.toFixed(0)} ms`);
    } catch (error) {
      results.addFailure('release-4', 'promote', error);
    }
  }
}

/**
 * `releases-100`: 100 releases of 100 different images, each of its own three-stage pipeline (dev → test →
 * prod, no-op hooks), started at once. Records the time until the last one ends and how many completed with
 * every tag in place.
 */
export async function runHundredReleases(
  environment: ReleaseEnvironment,
  registry: LocalRegistry,
  images: BenchImages,
  runs: number,
  results: ResultSet,
): Promise<void> {
  const count = 100;
  const sources = await images.many(count);
  console.log(`releases-${count}: ${count} releases started at once, one worker, dev → test → prod each`);
  for (let run = 0; run < runs; run += 1) {
    const pipelines = sources.map((source, index) =>
      pipelineFor(`many-run${run}-${index}`, registry, source, [{ name: 'test' }, { name: 'prod' }]),
    );
    const started = performance.now();
    const outcomes = await Promise.allSettled(
      pipelines.map(async (pipeline, index) => {
        const { status, digest } = await environment.release(pipeline, sources[index].reference);
        await checkRelease(pipeline, status, digest);
      }),
    );
    const ms = performance.now() - started;
    const failed = outcomes.filter((outcome) => outcome.status === 'rejected');
    results.addDetail('releases-100', 'promote', 'correct', count - failed.length);
    if (failed.length === 0) {
      results.addRun('releases-100', 'promote', ms);
    } else {
      results.addFailure('releases-100', 'promote', failed[0].reason);
    }
    console.log(`  run ${run + 1}/${runs}: ${(ms / 1000).toFixed(2)} s, ${count - failed.length}/${count} correct`);
  }
}
