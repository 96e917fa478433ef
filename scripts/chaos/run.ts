/**
 * One chaos run: sets up registries behind fault proxies, a Temporal dev server and worker processes, starts the
 * releases while killing workers and restarting the server on the seeded schedule, then checks every release
 * against the registries and reports.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { Pipeline } from '../../src/config/schema';
import type { LedgerEntry } from '../../workflows/messages';
import type { FaultProxy } from './fault-proxy';
import {
  buildPipeline,
  type ChaosEvent,
  type ChaosPlan,
  type ChaosSettings,
  drawPlan,
  failingStage,
  TARGET_STAGES,
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
import { ChaosStack, type SourceImage } from './stack';
import type { TemporalSupervisor, WorkerSupervisor } from './supervisor';
import { checkTruth, type StageFacts, type TruthResult } from './truth';

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

export async function runChaos(options: ChaosOptions, log: (message: string) => void): Promise<ChaosResult> {
  const began = Date.now();
  const runDir = mkdtempSync(join(tmpdir(), 'promote-chaos-'));
  const plan = drawPlan(options, options.workers);
  log(`run folder ${runDir}; seed ${options.seed}`);
  const stack = new ChaosStack(runDir);
  const state = { allClosed: false };
  let kept = true;
  try {
    await stack.startRegistries(options.seed, options.faultRate);
    // Workers take a while to start (they bundle the workflow code), so the images are pushed meanwhile.
    const [images, client] = await Promise.all([
      stack.pushImages(plan.releases, options.seed),
      stack.startTemporal(options.workers, log),
    ]);
    const failures = images.flatMap((image) => {
      const stage = failingStage(options.seed, image.digest);
      return stage ? [{ stage, digest: image.digest }] : [];
    });
    const pipeline = buildPipeline(stack.stageLocations(), writeHook(runDir, failures));
    log(`pushed ${images.length} images; ${failures.length} will fail a hook`);

    const approver = new AutoApprover(client, log);
    approver.start();
    stack.setFaults(true);
    const t0 = Date.now();
    const chaos = runEvents(plan.events, t0, state, stack.temporal, stack.workers!, log);
    const started = await startReleases(client, stack, pipeline, plan, images, t0);
    log(`started ${started.length} releases`);

    const stuck = await waitForReleases(client, started, Date.now() + options.deadlineMs, log);
    state.allClosed = true;
    const chaosDone = await chaos;
    await approver.stop();
    stack.setFaults(false);
    log(stuck.length === 0 ? 'every release has closed' : `${stuck.length} releases still run at the deadline`);

    const { truth, ledgers } = await checkRun(client, stack, started, images, new Set(stuck), options.seed);
    const workers = stack.workers!;
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
      approvals: approver.approvals,
      runTimeMs: Date.now() - began,
      ...trafficFigures(stack.proxies),
    };
    const ok = allCorrect(truth);
    const report = { options, figures, truth, ledgers: Object.fromEntries(ledgers) };
    writeFileSync(join(runDir, 'report.json'), JSON.stringify(report, null, 2));
    kept = options.keep || !ok || workers.unplannedExits.length > 0;
    return { lines: formatReport(figures, truth), ok, runDir, kept };
  } finally {
    state.allClosed = true;
    await stack.stop();
    if (!kept) {
      rmSync(runDir, { recursive: true, force: true });
    }
  }
}

/** Starts the releases at their planned times, each from its source tag through the proxy. */
async function startReleases(
  client: Client,
  stack: ChaosStack,
  pipeline: Pipeline,
  plan: ChaosPlan,
  images: SourceImage[],
  t0: number,
): Promise<StartedRelease[]> {
  const source = stack.stageLocations().dev;
  const started: StartedRelease[] = [];
  for (const [index, planned] of plan.releases.entries()) {
    await sleep(Math.max(0, t0 + planned.startAtMs - Date.now()));
    const image = images[index];
    const reference = `${source.host}/${source.repository}:${image.tag}`;
    const release = await startOne(client, stack.registryClient, pipeline, reference);
    if (release.digest !== image.digest) {
      throw new Error(`${image.tag} resolved to ${release.digest}, but the run pushed ${image.digest}`);
    }
    started.push({ index, tag: image.tag, digest: image.digest, workflowId: release.workflowId });
  }
  return started;
}

/** Gathers the releases' results, the ledgers and the registries' tags, and checks them (truth.ts). */
async function checkRun(
  client: Client,
  stack: ChaosStack,
  started: StartedRelease[],
  images: SourceImage[],
  stuck: Set<string>,
  seed: number,
): Promise<{ truth: TruthResult; ledgers: Map<string, LedgerEntry[]> }> {
  const outcomes = await collectOutcomes(client, started, stuck);
  const { ledgers, locks } = await readStages(client);
  const stages: StageFacts[] = [];
  for (const stage of TARGET_STAGES) {
    const { url, repository } = stack.direct(stage);
    stages.push({
      stage,
      ledger: ledgers.get(stage) ?? [],
      lock: locks.get(stage),
      tags: await readTags(url, repository),
    });
  }
  const source = stack.direct('dev');
  const truth = checkTruth({
    releases: started.map((release) => ({
      ...release,
      expectedFailure: failingStage(seed, release.digest),
      blobs: images[release.index].blobs,
      outcome: outcomes.get(release.workflowId)!,
    })),
    stages,
    sourceTags: await readTags(source.url, source.repository),
    manifestPuts: stack.proxies.flatMap((proxy) => proxy.traffic.manifestPuts),
    uploadCommits: stack.proxies.flatMap((proxy) => proxy.traffic.uploadCommits),
  });
  return { truth, ledgers };
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

/** Requests, faults and registry writes the proxies counted. */
function trafficFigures(
  proxies: FaultProxy[],
): Pick<RunFigures, 'requests' | 'faults' | 'uploadsCommitted' | 'manifestPuts'> {
  const faults = { ...proxies[0].faults };
  for (const proxy of proxies.slice(1)) {
    for (const [kind, count] of Object.entries(proxy.faults)) {
      faults[kind as keyof typeof faults] += count;
    }
  }
  const commits = proxies.flatMap((proxy) => proxy.traffic.uploadCommits);
  const puts = proxies.flatMap((proxy) => proxy.traffic.manifestPuts);
  return {
    requests: proxies.reduce((sum, proxy) => sum + proxy.requests, 0),
    faults,
    uploadsCommitted: commits.filter((commit) => commit.status === 201).length,
    manifestPuts: puts.filter((put) => put.status === 201).length,
  };
}
