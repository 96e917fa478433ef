/** Timing and peak memory of benchmark runs: child processes and in-process functions. */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const GNU_TIME = '/usr/bin/time';
/** Interval of /proc/<pid>/status reads when GNU time is missing. */
const RSS_SAMPLE_MS = 10;
const MiB = 1024 * 1024;

/** One finished run of a command. */
export interface ProcessRun {
  ms: number;
  /** Peak resident set size in MiB; undefined when it could not be read. */
  peakRssMib?: number;
  stdout: string;
}

/** How peak RSS is measured on this machine; printed once at the start. */
export function rssMethod(): string {
  return existsSync(GNU_TIME)
    ? `${GNU_TIME} -v (the kernel's maximum resident set size of the process)`
    : `VmHWM of /proc/<pid>/status read every ${RSS_SAMPLE_MS} ms, a lower bound; ` +
        "install GNU time ('apt-get install time') for the kernel's exact figure";
}

/**
 * Runs a command to completion and returns its wall time, its peak RSS and its standard output. Throws, with
 * its standard error, when it exits with a status other than 0 or runs past `timeoutMs`.
 */
export async function runProcess(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ProcessRun> {
  const useTime = existsSync(GNU_TIME);
  const scratch = mkdtempSync(join(tmpdir(), 'promoter-bench-run-'));
  const timeOutput = join(scratch, 'time.txt');
  const [file, argv] = useTime ? [GNU_TIME, ['-v', '-o', timeOutput, command, ...args]] : [command, args];

  try {
    const started = performance.now();
    const child = spawn(file, argv, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));

    let sampledKiB = 0;
    const sampler = useTime
      ? undefined
      : setInterval(() => (sampledKiB = Math.max(sampledKiB, readHighWaterMarkKiB(child.pid))), RSS_SAMPLE_MS);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (exitCode, exitSignal) => resolve([exitCode, exitSignal]));
    });
    const ms = performance.now() - started;
    clearTimeout(timer);
    clearInterval(sampler);

    if (code !== 0) {
      throw new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit status ${code}`}): ${stderr.trim()}`);
    }
    const peakKiB = useTime ? parseMaxRssKiB(readFileSync(timeOutput, 'utf8')) : sampledKiB;
    return { ms, peakRssMib: peakKiB ? peakKiB / 1024 : undefined, stdout };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function readHighWaterMarkKiB(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0);
  } catch {
    // The process has exited between two samples.
    return 0;
  }
}

function parseMaxRssKiB(report: string): number | undefined {
  const match = /Maximum resident set size \(kbytes\): (\d+)/.exec(report);
  return match ? Number(match[1]) : undefined;
}

/** Runs `work` and returns its wall time in milliseconds. */
export async function timeInProcess(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

/** This process's peak RSS so far (VmHWM), in MiB. */
export function ownPeakRssMib(): number {
  return readHighWaterMarkKiB(process.pid) / 1024;
}

export function median(values: number[]): number {
  if (values.length === 0) {
    return Number.NaN;
  }
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export { MiB };
