import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { devServerSearchAttributeFlags } from '../../src/temporal/search-attributes';
import { freePort, waitUntil } from './ports';
import { requireTool } from './tools';

/** Options of a local Temporal dev server. */
export interface TemporalServerOptions {
  /** SQLite file that keeps the server's state across restarts; in memory when absent. */
  dbFile?: string;
  /** gRPC port on 127.0.0.1; a free one when absent. */
  port?: number;
  /** Port of the web UI; headless when absent. */
  uiPort?: number;
  /** Whether to register the product's search attributes at start; default true. */
  searchAttributes?: boolean;
  /** Dynamic configuration values (`--dynamic-config-value KEY=JSON`), such as FAST_TASK_DISPATCH. */
  dynamicConfig?: Record<string, string | number | boolean>;
  /**
   * File that receives the server's stderr, appended; a pipe to this process when absent. A server that should
   * outlive this process needs a file, because a Go program exits on a write to a closed stderr pipe.
   */
  logFile?: string;
}

/**
 * Lets the dev server hand out workflow and activity tasks as soon as they are created. The dev server has one
 * history shard, whose task queue reader loads new tasks at most 20 times a second by default (Temporal server
 * 1.29, `history.transferProcessorMaxPollRPS`). So each step of a workflow waits up to 50 ms for its task, and a
 * four-stage release of about 40 tasks took 2.2 s instead of 0.6 s (scripts/bench, 2 cores).
 */
export const FAST_TASK_DISPATCH: Record<string, number> = { 'history.transferProcessorMaxPollRPS': 1000 };

/** A `temporal server start-dev` process. */
export interface LocalTemporalServer {
  /** `127.0.0.1:PORT`, the frontend address for clients and workers. */
  readonly address: string;
  readonly port: number;
  /** Web UI address, when started with one. */
  readonly uiUrl?: string;
  readonly process: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts `temporal server start-dev` with the product's search attributes registered, and waits
 * until its frontend port accepts connections.
 */
export async function startTemporalServer(options: TemporalServerOptions = {}): Promise<LocalTemporalServer> {
  // Another process can bind a port between freePort() and the server's start. The server then logs the clash and
  // hangs instead of exiting, so the start is tried again on new ports.
  const attempts = 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchTemporalServer(options);
    } catch (error) {
      if (!(error instanceof PortTakenError) || attempt === attempts) {
        throw error;
      }
    }
  }
}

/** A port the dev server was given was taken by another process meanwhile. */
class PortTakenError extends Error {}

async function launchTemporalServer(options: TemporalServerOptions): Promise<LocalTemporalServer> {
  const binary = requireTool('temporal');
  const port = options.port ?? (await freePort());
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'error'];
  if (options.searchAttributes !== false) {
    args.push(...devServerSearchAttributeFlags());
  }
  for (const [key, value] of Object.entries(options.dynamicConfig ?? {})) {
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  }
  if (options.dbFile) {
    mkdirSync(dirname(options.dbFile), { recursive: true });
    args.push('--db-filename', options.dbFile);
  }
  if (options.uiPort) {
    args.push('--ui-port', String(options.uiPort));
  } else {
    args.push('--headless');
  }
  // The dev server also listens on a metrics and an HTTP port; free ones avoid clashes between servers.
  args.push('--metrics-port', String(await freePort()), '--http-port', String(await freePort()));

  const logFd = options.logFile === undefined ? undefined : openSync(options.logFile, 'a');
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', logFd ?? 'pipe'] });
  if (logFd !== undefined) {
    closeSync(logFd);
  }
  let piped = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    piped = (piped + chunk.toString()).slice(-4000);
  });
  const stderrTail = () => (options.logFile === undefined ? piped : readFileSync(options.logFile, 'utf8').slice(-4000));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // waitUntil treats a probe's error as "not yet", so a port clash ends the wait through this flag instead.
  let portTaken = false;
  try {
    await waitUntil(`Temporal dev server on 127.0.0.1:${port}`, async () => {
      if (child.exitCode !== null) {
        throw new Error(`exited with code ${child.exitCode}`);
      }
      // Only piped output is searched: a log file keeps the lines of earlier runs.
      portTaken = options.logFile === undefined && piped.includes('address already in use');
      return portTaken || portAnswers(port);
    });
    if (portTaken) {
      throw new PortTakenError('a port it was given is in use');
    }
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    const message = `Temporal dev server did not start: ${(error as Error).message}; stderr: ${stderrTail()}`;
    throw error instanceof PortTakenError ? new PortTakenError(message) : new Error(message);
  }

  return {
    address: `127.0.0.1:${port}`,
    port,
    uiUrl: options.uiPort ? `http://127.0.0.1:${options.uiPort}` : undefined,
    process: child,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
