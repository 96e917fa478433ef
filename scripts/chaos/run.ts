/**
 * One chaos run: sets up registries behind fault proxies, a Temporal dev server and worker processes, starts the
 * releases while killing workers and restarting the server on the seeded schedule, then checks every release
 * against the registries and reports.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { RegistryClient } from '../../src/oci/client';
import { pushImage } from '../lib/images';
import { type LocalRegistry, startRegistry } from '../lib/registry';
import { FaultProxy } from './fault-proxy';
import {
  buildPipeline,
  type ChaosEvent,
  type ChaosSettings,
  drawPlan,
  failingStage,
  imageLayers,
  TARGET_STAGES,
  type TargetStage,
  writeHook,
} from './plan';
import { allCorrect, formatReport, type RunFigures } from './report';
import { readTags } from './registry-truth';
import {
  AutoApprover,
  collectOutcomes,
  readStages,
  sleep,
  startOne,
  type StartedRelease,
  waitForReleases,
} from './releases';
import { TemporalSupervisor, WorkerSupervisor } from './supervisor';
import { checkTruth, type ReleaseFacts, type StageFacts } from './truth';

export interface ChaosOptions extends ChaosSettings {
  /** Worker processes on the task queue. */
  workers: number;
  /** Time every release has to close after the last one started, in milliseconds. */
  deadlineMs: number;
  /** Keep the run's folder (logs, database, report) even when every release is correct. */
  keep: boolean;
}

export interface ChaosResult {
  lines: string[];
  ok: boolean;
  runDir: string;
  /** Whether the run folder is kept: on request, when a release is wrong, or when a worker crashed. */
  kept: boolean;
}

/** An image the run pushed to the source repository. */
interface SourceImage {
  tag: string;
  digest: string;
  blobs: string[];
}

export async function runChaos(options: ChaosOptions, log: (message: string) => void): Promise<ChaosResult> {
  const began = Date.now();
  const runDir = mkdtempSync(join(tmpdir(), 'promote-chaos-'));
  const plan = drawPlan(options, options.workers);
  log(`run folder ${runDir}; seed ${options.seed}`);

  const registries: LocalRegistry[] = [];
  const proxies: FaultProxy[] = [];
  const temporal = new TemporalSupervisor(join(runDir, 'temporal.db'));
  let workers: WorkerSupervisor | undefined;
  let connection: Connection | undefined;
  const registry = new RegistryClient();
  const state = { allClosed: false };
  let ok = false;
  let kept = true;
  try {
    registries.push(await startRegistry(), await startRegistry());
    for (const [index, upstream] of registries.entries()) {
      const proxy = new FaultProxy({
        name: `registry-${'ab'[index]}`,
        upstream: upstream.url,
        seed: options.seed,
        faultRate: options.faultRate,
      });
      await proxy.start();
      proxies.push(proxy);
    }
    const [registryA, registryB] = registries;
    const [proxyA, proxyB] = proxies;

    const images = await pushImages(registryA, plan.releases, options.seed);
    const failures = images.flatMap((image) => {
      const stage = failingStage(options.seed, image.digest);
      return stage ? [{ stage, digest: image.digest }] : [];
    });
    const pipeline = buildPipeline(
      {
        dev: { host: proxyA.host, repository: 'chaos/dev' },
        test: { host: proxyA.host, repository: 'chaos/test' },
        staging: { host: proxyB.host, repository: 'chaos/staging' },
        prod: { host: proxyB.host, repository: 'chaos/prod' },
      },
      writeHook(runDir, failures),
    );
    log(`pushed ${images.length} images; ${failures.length} will fail a hook`);

    await temporal.start();
    workers = new WorkerSupervisor({ count: options.workers, temporalAddress: temporal.address, runDir, log });
    await workers.startAll();
    connection = await Connection.connect({ address: temporal.address });
    const client = new Client({ connection });
    const approver = new AutoApprover(client, log);
    approver.start();
    for (const proxy of proxies) {
      proxy.enableFaults();
    }

    const t0 = Date.now();
    const chaos = runEvents(plan.events, t0, state, temporal, workers, log);
    const started: StartedRelease[] = [];
    for (const [index, planned] of plan.releases.entries()) {
      await sleep(Math.max(0, t0 + planned.startAtMs - Date.now()));
      const image = images[index];
      const release = await startOne(client, registry, pipeline, `${proxyA.host}/chaos/dev:${image.tag}`);
      if (release.digest !== image.digest) {
        throw new Error(`${image.tag} resolved to ${release.digest}, but the run pushed ${image.digest}`);
      }
      started.push({ index, tag: image.tag, digest: image.digest, workflowId: release.workflowId });
    }
    log(`started ${started.length} releases`);

    const stuck = await waitForReleases(client, started, Date.now() + options.deadlineMs, log);
    state.allClosed = true;
    const chaosDone = await chaos;
    await approver.stop();
    for (const proxy of proxies) {
      proxy.disableFaults();
    }
    log(stuck.length === 0 ? 'every release has closed' : `${stuck.length} releases still run at the deadline`);

    const outcomes = await collectOutcomes(client, started, new Set(stuck));
    const { ledgers, locks } = await readStages(client);
    const stageRegistry: Record<TargetStage, LocalRegistry> = { test: registryA, staging: registryB, prod: registryB };
    const stages: StageFacts[] = [];
    for (const stage of TARGET_STAGES) {
      stages.push({
        stage,
        ledger: ledgers.get(stage) ?? [],
        lock: locks.get(stage),
        tags: await readTags(stageRegistry[stage].url, `chaos/${stage}`),
      });
    }
    const releases: ReleaseFacts[] = started.map((release) => ({
      ...release,
      expectedFailure: failingStage(options.seed, release.digest),
      blobs: images[release.index].blobs,
      outcome: outcomes.get(release.workflowId)!,
    }));
    const truth = checkTruth({
      releases,
      stages,
      sourceTags: await readTags(registryA.url, 'chaos/dev'),
      manifestPuts: proxies.flatMap((proxy) => proxy.traffic.manifestPuts),
      uploadCommits: proxies.flatMap((proxy) => proxy.traffic.uploadCommits),
    });

    const figures: RunFigures = {
      seed: options.seed,
      releases: started.length,
      faultRate: options.faultRate,
      workers: options.workers,
      kills: chaosDone.kills,
      killsPlanned: options.kills,
      restarts: chaosDone.restarts,
      restartsPlanned: options.restarts,
      unplannedWorkerExits: [...workers.unplannedExits],
      requests: proxies.reduce((sum, proxy) => sum + proxy.requests, 0),
      faults: sumFaults(proxies),
      approvals: approver.approvals,
      uploadsCommitted: proxies
        .flatMap((proxy) => proxy.traffic.uploadCommits)
        .filter((commit) => commit.status === 201).length,
      manifestPuts: proxies.flatMap((proxy) => proxy.traffic.manifestPuts).filter((put) => put.status === 201).length,
      runTimeMs: Date.now() - began,
    };
    const lines = formatReport(figures, truth);
    ok = allCorrect(truth);
    writeFileSync(
      join(runDir, 'report.json'),
      JSON.stringify(
        { options, figures, truth, ledgers: Object.fromEntries(ledgers), unplannedExits: workers.unplannedExits },
        null,
        2,
      ),
    );
    kept = options.keep || !ok || workers.unplannedExits.length > 0;
    return { lines, ok, runDir, kept };
  } finally {
    state.allClosed = true;
    await connection?.close().catch(() => undefined);
    await workers?.stopAll();
    await temporal.stop();
    await registry.close();
    for (const proxy of proxies) {
      await proxy.close();
    }
    for (const started of registries) {
      await started.stop();
    }
    if (!kept) {
      rmSync(runDir, { recursive: true, force: true });
    }
  }
}

async function pushImages(
  registry: LocalRegistry,
  releases: { index: number; tag: string }[],
  seed: number,
): Promise<SourceImage[]> {
  const images: SourceImage[] = [];
  for (const release of releases) {
    const pushed = await pushImage(registry, 'chaos/dev', { layers: imageLayers(seed, release.index) }, release.tag);
    images.push({ tag: release.tag, digest: pushed.digest, blobs: pushed.blobs.map((blob) => blob.digest) });
  }
  return images;
}

/**
 * Runs the kills and restarts at their planned times, one at a time, until every release has closed. Events due
 * after that are skipped: there is nothing left for them to disturb.
 */
async function runEvents(
  events: ChaosEvent[],
  t0: number,
  state: { allClosed: boolean },
  temporal: TemporalSupervisor,
  workers: WorkerSupervisor,
  log: (message: string) => void,
): Promise<{ kills: number; restarts: number }> {
  const done = { kills: 0, restarts: 0 };
  for (const event of events) {
    while (!state.allClosed && Date.now() < t0 + event.atMs) {
      await sleep(Math.min(500, t0 + event.atMs - Date.now()));
    }
    if (state.allClosed) {
      break;
    }
    if (event.kind === 'kill') {
      log(`killing worker-${event.worker + 1} with SIGKILL; back in ${event.downMs} ms`);
      await workers.killAndRestart(event.worker, event.downMs);
      done.kills += 1;
    } else {
      log(`restarting the Temporal server; down for ${event.downMs} ms`);
      await temporal.restart(event.downMs);
      log('Temporal server is back');
      done.restarts += 1;
    }
  }
  return done;
}

function sumFaults(proxies: FaultProxy[]): RunFigures['faults'] {
  const total = { ...proxies[0].faults };
  for (const proxy of proxies.slice(1)) {
    for (const [kind, count] of Object.entries(proxy.faults)) {
      total[kind as keyof typeof total] += count;
    }
  }
  return total;
}
