/**
 * The demo's folder: the Temporal database, the registries' storage, the generated pipeline, logs, and a state file
 * that carries the ports and the processes of the last run to the next one.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { freePort } from '../lib/ports';

/** Ports the demo listens on, all on 127.0.0.1. */
export interface DemoPorts {
  temporal: number;
  ui: number;
  /** Registry of the dev and test stages. */
  registryA: number;
  /** Registry of the staging and prod stages. */
  registryB: number;
}

/** A process the demo started, with the command line that identifies it. */
export interface DemoProcess {
  name: string;
  pid: number;
  commandLine: string;
}

export interface DemoState {
  /** Runs started in this folder, this one included. */
  runs: number;
  /** False while a run is in progress, and after a run that was interrupted or killed. */
  finished: boolean;
  ports?: DemoPorts;
  processes: DemoProcess[];
}

/** The ports the pipeline file and docker-compose.yml use, preferred when they are free. */
export const PREFERRED_PORTS: DemoPorts = { temporal: 7233, ui: 8233, registryA: 5001, registryB: 5002 };

/** Returns the demo folder: $PROMOTE_DEMO_DIR, else `.demo` in the repository (git-ignored). */
export function demoDir(root: string): string {
  return resolve(process.env.PROMOTE_DEMO_DIR ?? join(root, '.demo'));
}

function statePath(dir: string): string {
  return join(dir, 'state.json');
}

/** Reads the state of the last run; a missing or unreadable file means no run happened here yet. */
export function readState(dir: string): DemoState {
  mkdirSync(dir, { recursive: true });
  if (!existsSync(statePath(dir))) {
    return { runs: 0, finished: true, processes: [] };
  }
  try {
    return JSON.parse(readFileSync(statePath(dir), 'utf8')) as DemoState;
  } catch {
    return { runs: 0, finished: true, processes: [] };
  }
}

export function writeState(dir: string, state: DemoState): void {
  writeFileSync(statePath(dir), JSON.stringify(state, null, 2) + '\n');
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const server = createServer();
    server.once('error', () => resolvePromise(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePromise(true)));
  });
}

/**
 * Picks each port: the preferred one, which examples/pipeline.yaml names, else the one the last run used, else any
 * free port. A run that had to move off a preferred port returns to it once it is free again.
 */
export async function choosePorts(
  previous: DemoPorts | undefined,
  preferred: DemoPorts = PREFERRED_PORTS,
): Promise<DemoPorts> {
  const chosen: Partial<DemoPorts> = {};
  const taken = new Set<number>();
  for (const key of Object.keys(preferred) as (keyof DemoPorts)[]) {
    const candidates = [preferred[key], previous?.[key]].filter((port): port is number => port !== undefined);
    let port: number | undefined;
    for (const candidate of candidates) {
      if (!taken.has(candidate) && (await isFree(candidate))) {
        port = candidate;
        break;
      }
    }
    port ??= await freePort();
    taken.add(port);
    chosen[key] = port;
  }
  return chosen as DemoPorts;
}

/** Returns a process's command line from /proc, or undefined when it has ended or /proc is not there. */
export function commandLineOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return undefined;
  }
}

/**
 * Stops processes a killed run, or a run with `--keep`, left behind: the worker first, so that it does not wait for
 * a Temporal server that is gone. A process counts as the demo's only while its PID still runs the command line
 * recorded when the demo started it, so a PID the system has reused for something else is left alone.
 */
export async function stopLeftovers(processes: DemoProcess[]): Promise<DemoProcess[]> {
  const stopped: DemoProcess[] = [];
  const workersFirst = [...processes].sort((a, b) => Number(b.name === 'worker') - Number(a.name === 'worker'));
  for (const leftover of workersFirst) {
    if (commandLineOf(leftover.pid) !== leftover.commandLine) {
      continue;
    }
    process.kill(leftover.pid, 'SIGTERM');
    const stillRunning = () => commandLineOf(leftover.pid) === leftover.commandLine;
    for (let waited = 0; waited < 5000 && stillRunning(); waited += 100) {
      await new Promise((resolveTimer) => setTimeout(resolveTimer, 100));
    }
    if (stillRunning()) {
      process.kill(leftover.pid, 'SIGKILL');
    }
    stopped.push(leftover);
  }
  return stopped;
}
