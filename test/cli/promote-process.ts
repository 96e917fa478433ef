/**
 * Runs the real `promote` CLI as child processes. Node runs main.ts with tsx's loader directly, so the child's
 * PID is the CLI itself and a signal sent to it reaches the CLI, not a wrapper.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntil } from '../../scripts/lib/ports';

const ROOT = join(__dirname, '..', '..');
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const NODE_ARGS = ['--import', 'tsx', MAIN];

/** Output and exit code of one CLI run. */
export interface PromoteRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Builds a child environment that reaches only the given Temporal server: no TEMPORAL_* variables of the
 * caller, an empty Temporal config directory and an empty docker config.
 */
export function promoteEnvironment(temporalAddress: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const home = mkdtempSync(join(tmpdir(), 'promote-cli-home-'));
  mkdirSync(join(home, '.docker'));
  writeFileSync(join(home, '.docker', 'config.json'), '{"auths":{}}');
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('TEMPORAL_') && key !== 'DOCKER_CONFIG') {
      env[key] = value;
    }
  }
  return {
    ...env,
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    DOCKER_CONFIG: join(home, '.docker'),
    USER: 'ci-bot',
    NO_COLOR: '1',
    TEMPORAL_ADDRESS: temporalAddress,
    ...extra,
  };
}

/** Runs `promote ARGS` to its end. */
export function promote(env: NodeJS.ProcessEnv, ...args: string[]): Promise<PromoteRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...NODE_ARGS, ...args], { cwd: ROOT, env }, (error, stdout, stderr) => {
      let code = 0;
      if (error !== null) {
        // A child killed by a signal has no exit code.
        code = typeof error.code === 'number' ? error.code : -1;
      }
      resolve({ code, stdout, stderr });
    });
  });
}

/** A `promote` run still going, whose output can be read while it runs. */
export interface PromoteFollower {
  /** stdout so far. */
  stdout(): string;
  done: Promise<PromoteRun>;
}

/** Starts `promote ARGS` and returns at once, for commands such as `start --wait` that print as they go. */
export function promoteFollowing(env: NodeJS.ProcessEnv, ...args: string[]): PromoteFollower {
  const child = spawn(process.execPath, [...NODE_ARGS, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<PromoteRun>((resolve) => {
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
  return { stdout: () => stdout, done };
}

/** Runs `promote ARGS --json` and parses its stdout. */
export async function promoteJson<T>(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ run: PromoteRun; json: T }> {
  const run = await promote(env, ...args, '--json');
  let json: T;
  try {
    json = JSON.parse(run.stdout) as T;
  } catch (error) {
    throw new Error(
      `promote ${args.join(' ')} --json printed no JSON (${(error as Error).message}); exit ${run.code}\n` +
        `stdout: ${run.stdout}\nstderr: ${run.stderr}`,
    );
  }
  return { run, json };
}

/** A `promote worker` child process. */
export interface PromoteWorker {
  readonly process: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code and signal once the process has ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends SIGTERM and waits for the exit, or SIGKILLs it after `graceMs`. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `promote worker ARGS` and returns once it logged that it started. */
export async function startPromoteWorker(env: NodeJS.ProcessEnv, ...args: string[]): Promise<PromoteWorker> {
  const child = spawn(process.execPath, [...NODE_ARGS, 'worker', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );

  try {
    await waitUntil(
      'promote worker to start',
      () => {
        if (child.exitCode !== null) {
          throw new Error(`promote worker exited with code ${child.exitCode}`);
        }
        return Promise.resolve(output.includes('Worker started'));
      },
      60_000,
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}; output:\n${output}`);
  }

  return {
    process: child,
    output: () => output,
    exited,
    async stop(graceMs = 15_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        const result = await exited;
        clearTimeout(timer);
        return result;
      }
      return exited;
    },
  };
}

/** Writes a pipeline file into `dir` and returns its path. */
export function writePipelineFile(dir: string, name: string, yaml: string): string {
  const path = join(dir, name);
  writeFileSync(path, yaml);
  return path;
}
