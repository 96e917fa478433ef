/**
 * `npm run bench`: measures `promote copy`, the copy activity and whole releases side by side with the tools users
 * would script instead (crane, regctl, skopeo) and with a plain parallel HTTP stream, on registries and a Temporal
 * dev server it starts on 127.0.0.1. Prints a table of medians and the goals, and writes `bench/results.json`.
 *
 *   npm run bench -- [--runs 5] [--cases cross-5x40,same-5x40,...] [--output bench/results.json]
 *                    [--temporal-defaults] [--baseline DIR]
 *
 * The release cases run on a dev server started with FAST_TASK_DISPATCH; --temporal-defaults leaves the dev
 * server's task dispatch rate as it ships. --baseline DIR adds `promote-baseline` to the command-line copy cases:
 * `promote copy` of another checkout of this repository (built), interleaved with this one, to measure a change.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { activityCases, runActivityCase } from './activity-cases';
import { copyCases, runCopyCase } from './copy-cases';
import { BenchImages } from './images';
import { rssMethod } from './measure';
import { type CopyTool, PeerSetup, PROMOTE_CLI } from './peers';
import { ReleaseEnvironment, runFourStageRelease, runHundredReleases } from './release-cases';
import { goalLines, resultTable } from './report';
import { ResultSet } from './results';
import { type LocalRegistry, startRegistry } from '../lib/registry';
import { FAST_TASK_DISPATCH } from '../lib/temporal-server';
import { requireTool } from '../lib/tools';

const ALL_CASES = [
  'cross-5x40',
  'same-5x40',
  'index-3',
  'cross-1g',
  'activity-same',
  'activity-cross',
  'release-4',
  'releases-100',
];
const MIN_RUNS = 5;

function parseOptions() {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: String(MIN_RUNS) },
      cases: { type: 'string', default: ALL_CASES.join(',') },
      output: { type: 'string', default: join(__dirname, '..', '..', 'bench', 'results.json') },
      'temporal-defaults': { type: 'boolean', default: false },
      baseline: { type: 'string' },
    },
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) {
    throw new Error(`--runs expects a positive integer, e.g. 5, got ${values.runs}`);
  }
  const cases = values.cases.split(',').filter((name) => name !== '');
  const unknown = cases.filter((name) => !ALL_CASES.includes(name));
  if (unknown.length > 0) {
    throw new Error(`unknown case ${unknown.join(', ')}; expected a comma-separated list of ${ALL_CASES.join(', ')}`);
  }
  const baseline = values.baseline === undefined ? undefined : resolve(values.baseline);
  return { runs, cases, output: resolve(values.output), temporalDefaults: values['temporal-defaults'], baseline };
}

/** Prints what the figures depend on: processor, load, versions and how memory is measured. */
function describeMachine(): void {
  const model = cpus()[0]?.model ?? 'unknown processor';
  const memory = /MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1];
  const registryVersion = execFileSync(requireTool('registry'), ['--version'], { encoding: 'utf8' }).trim().split(' ').slice(1).join(' ');
  console.log(`machine: ${cpus().length} x ${model}, ${Math.round(Number(memory) / 1024 / 1024)} GiB memory`);
  console.log(`node ${process.version}; registry: ${registryVersion}`);
  console.log(`load average at start: ${formatLoad()}`);
  console.log(`peak RSS: ${rssMethod()}`);
  if (process.env.NODE_EXTRA_CA_CERTS) {
    console.log('NODE_EXTRA_CA_CERTS is set here; the tools run without it (see toolEnvironment)');
  }
}

function formatLoad(): string {
  return loadavg()
    .map((value) => value.toFixed(2))
    .join(', ');
}

async function main(): Promise<void> {
  const { runs, cases, output, temporalDefaults, baseline } = parseOptions();
  if (!existsSync(PROMOTE_CLI)) {
    throw new Error(`${PROMOTE_CLI} is missing; run 'npm run build' first, or use 'npm run bench', which builds`);
  }
  if (runs < MIN_RUNS) {
    console.warn(`--runs ${runs}: medians of fewer than ${MIN_RUNS} runs are too noisy to compare tools`);
  }
  describeMachine();

  const started: { stop(): Promise<void> }[] = [];
  const peers = new PeerSetup(baseline);
  const stopAll = async () => {
    await Promise.allSettled(started.map((part) => part.stop()));
    peers.cleanUp();
  };
  process.once('SIGINT', () => void stopAll().finally(() => process.exit(130)));

  const results = new ResultSet();
  try {
    const [a, b] = await Promise.all([startRegistry(), startRegistry()]);
    started.push(a, b);
    const images = new BenchImages(a);
    await runCopyCases(cases, runs, results, images, peers, a, b);

    for (const activityCase of activityCases(a, b).filter((candidate) => cases.includes(candidate.name))) {
      await runActivityCase(activityCase, await images.fiveByForty(), runs, results);
    }

    if (cases.includes('release-4') || cases.includes('releases-100')) {
      const environment = await ReleaseEnvironment.start(temporalDefaults);
      const dispatch = temporalDefaults ? 'as it ships' : JSON.stringify(FAST_TASK_DISPATCH);
      console.log(`Temporal dev server ${environment.server.address}, task dispatch: ${dispatch}`);
      started.unshift(environment);
      if (cases.includes('release-4')) {
        await runFourStageRelease(environment, a, images, runs, results);
      }
      if (cases.includes('releases-100')) {
        await runHundredReleases(environment, a, images, runs, results);
      }
    }
  } finally {
    await stopAll();
  }

  console.log(`\nload average at end: ${formatLoad()}\n`);
  console.log(resultTable(results));
  console.log(`\n÷ promote: the tool's median divided by promote's; above 1, promote is faster.\n`);
  for (const line of goalLines(results)) {
    console.log(line);
  }
  mkdirSync(dirname(output), { recursive: true });
  writeFileSync(output, JSON.stringify(results.rows, null, 2) + '\n');
  console.log(`\nwrote ${output}`);
}

async function runCopyCases(
  cases: string[],
  runs: number,
  results: ResultSet,
  images: BenchImages,
  peers: PeerSetup,
  a: LocalRegistry,
  b: LocalRegistry,
): Promise<void> {
  const selected = copyCases(images, a, b).filter((copyCase) => cases.includes(copyCase.name));
  if (selected.length === 0) {
    return;
  }
  const tools = [...new Set(selected.flatMap((copyCase) => copyCase.tools))] as CopyTool[];
  const runners = await peers.runners(tools, [a.host, b.host]);
  console.log(`tools: ${runners.map((runner) => `${runner.tool} (${runner.version})`).join(', ')}`);
  for (const copyCase of selected) {
    await runCopyCase(copyCase, runners, runs, results);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
