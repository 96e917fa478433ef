// Compares `promote copy` with crane and skopeo copying one image between two local registries.
//
//   npm run build && npx tsx scripts/bench-copy.ts [--runs 5] [--layers 5] [--mib 40] [--rss-mib 1024]
//
// Each run copies into a new repository of the destination registry, with the tools in rotating order,
// and prints the median wall time per tool. --rss-mib also copies one layer of that size with
// `promote copy` under /usr/bin/time -v and prints its peak RSS.

import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pushImage } from './lib/images';
import { type LocalRegistry, startRegistry } from './lib/registry';
import { findTool } from './lib/tools';

const ROOT = join(__dirname, '..');
const PROMOTE = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const MiB = 1024 * 1024;
const RUN_TIMEOUT_MS = 120_000;
// skopeo remembers where it has seen blobs and would mount instead of copying in later runs.
const SKOPEO_CACHES = [
  '/var/lib/containers/cache/blob-info-cache-v1.boltdb',
  '/var/lib/containers/cache/blob-info-cache-v1.sqlite',
  join(process.env.HOME ?? '/root', '.local/share/containers/cache/blob-info-cache-v1.boltdb'),
  join(process.env.HOME ?? '/root', '.local/share/containers/cache/blob-info-cache-v1.sqlite'),
];

type Tool = 'promote' | 'crane' | 'skopeo';

function commandFor(tool: Tool, source: string, destination: string): [string, string[]] {
  switch (tool) {
    case 'promote':
      return [process.execPath, [PROMOTE, 'copy', source, destination]];
    case 'crane':
      return [findTool('crane')!, ['copy', '--insecure', source, destination]];
    case 'skopeo':
      for (const cache of SKOPEO_CACHES) {
        rmSync(cache, { force: true });
      }
      return [
        findTool('skopeo')!,
        [
          'copy',
          '-q',
          '--src-tls-verify=false',
          '--dest-tls-verify=false',
          `docker://${source}`,
          `docker://${destination}`,
        ],
      ];
  }
}

/**
 * Returns the wall time of one copy in seconds, or undefined when the tool failed or ran past the
 * timeout. Asynchronous on purpose: the registries write their stderr into this process, and a
 * blocked event loop would stop draining it and stall them.
 */
function timeRun(tool: Tool, source: string, destination: string): Promise<number | undefined> {
  const [command, args] = commandFor(tool, source, destination);
  const started = performance.now();
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: RUN_TIMEOUT_MS });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  return new Promise((resolve) => {
    child.on('close', (status, signal) => {
      const elapsed = (performance.now() - started) / 1000;
      if (status !== 0) {
        console.error(`${tool} failed (${signal ?? `status ${status}`}): ${stderr.trim()}`);
        resolve(undefined);
        return;
      }
      resolve(elapsed);
    });
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function compareWallTime(
  source: LocalRegistry,
  destination: LocalRegistry,
  runs: number,
  layers: number,
  mib: number,
) {
  const spec = { layers: Array.from({ length: layers }, () => ({ randomBytes: mib * MiB })) };
  const image = await pushImage(source, 'bench/app', spec, 'v1');
  const tools = (['promote', 'crane', 'skopeo'] as Tool[]).filter((tool) => tool === 'promote' || findTool(tool));
  const times = new Map<Tool, number[]>(tools.map((tool) => [tool, []]));

  for (let run = 0; run < runs; run += 1) {
    const order = tools.map((_, i) => tools[(i + run) % tools.length]);
    for (const tool of order) {
      const destinationRef = `${destination.host}/run${run}-${tool}/app:v1`;
      const seconds = await timeRun(tool, `${source.host}/bench/app:v1`, destinationRef);
      if (seconds !== undefined) {
        times.get(tool)!.push(seconds);
      }
    }
  }

  console.log(`${layers} x ${mib} MiB image ${image.digest}, ${runs} runs, seconds:`);
  for (const [tool, values] of times) {
    const list = values.map((value) => value.toFixed(2)).join(' ');
    const failed = runs - values.length;
    const failures = failed > 0 ? `, ${failed} failed` : '';
    console.log(`  ${tool.padEnd(8)} median ${median(values).toFixed(3)}  (${list}${failures})`);
  }
}

async function measurePeakRss(source: LocalRegistry, destination: LocalRegistry, mib: number) {
  await pushImage(source, 'bench/large', { layers: [{ randomBytes: mib * MiB }] }, 'v1');
  const child = spawn(
    '/usr/bin/time',
    ['-v', process.execPath, PROMOTE, 'copy', `${source.host}/bench/large:v1`, `${destination.host}/rss/large:v1`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (status !== 0) {
    throw new Error(`promote copy of the ${mib} MiB layer failed: ${stderr}`);
  }
  const peakKiB = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1]);
  const elapsed = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)/.exec(stderr)?.[1];
  console.log(`one ${mib} MiB layer: peak RSS ${(peakKiB / 1024).toFixed(1)} MiB, wall time ${elapsed}`);
}

async function main() {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '5' },
      layers: { type: 'string', default: '5' },
      mib: { type: 'string', default: '40' },
      'rss-mib': { type: 'string' },
    },
  });
  if (!existsSync(PROMOTE)) {
    throw new Error(`${PROMOTE} is missing; run 'npm run build' first so start-up is not spent compiling TypeScript`);
  }
  const [source, destination] = await Promise.all([startRegistry(), startRegistry()]);
  try {
    await compareWallTime(source, destination, Number(values.runs), Number(values.layers), Number(values.mib));
    if (values['rss-mib'] !== undefined) {
      await measurePeakRss(source, destination, Number(values['rss-mib']));
    }
  } finally {
    await Promise.all([source.stop(), destination.stop()]);
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
