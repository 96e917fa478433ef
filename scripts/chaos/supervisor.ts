/**
 * The processes the chaos run attacks: `promote worker` child processes and the Temporal dev server. Workers are
 * killed with SIGKILL and started again; the server is stopped and started again on the same port with the same
 * database file. A worker that exits without being killed is started again too, and counted, because a worker
 * should ride out faults rather than exit.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { waitUntil } from '../lib/ports';
import { type LocalTemporalServer, startTemporalServer } from '../lib/temporal-server';

const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'src', 'cli', 'main.ts');
/** A worker bundles the workflow code before it polls; on a busy machine that takes a while. */
const WORKER_START_TIMEOUT_MS = 120_000;
/** Time a worker gets to stop after SIGTERM at the end of the run, before SIGKILL. */
const WORKER_STOP_GRACE_MS = 15_000;

/** One worker slot: the process running in it now, and its history. */
interface WorkerSlot {
  index: number;
  child?: ChildProcess;
  /** True while the supervisor itself stops or kills the process, so its exit is expected. */
  expectingExit: boolean;
  output: string;
  starts: number;
}

export interface WorkerSupervisorOptions {
  count: number;
  temporalAddress: string;
  /** Folder for the workers' logs and their empty docker config. */
  runDir: string;
  log: (message: string) => void;
}

export class WorkerSupervisor {
  /** Exits the supervisor did not cause, each with the worker's label and exit status. */
  readonly unplannedExits: string[] = [];
  private readonly slots: WorkerSlot[];
  private readonly logFile: WriteStream;
  private readonly env: NodeJS.ProcessEnv;
  private stopping = false;

  constructor(private readonly options: WorkerSupervisorOptions) {
    this.slots = Array.from({ length: options.count }, (_, index) => ({
      index,
      expectingExit: false,
      output: '',
      starts: 0,
    }));
    this.logFile = createWriteStream(join(options.runDir, 'workers.log'));
    this.env = workerEnvironment(options.runDir, options.temporalAddress);
  }

  get count(): number {
    return this.slots.length;
  }

  async startAll(): Promise<void> {
    await Promise.all(this.slots.map((slot) => this.start(slot)));
  }

  /** Kills worker `index` with SIGKILL, waits for its exit, waits `downMs`, and starts it again. */
  async killAndRestart(index: number, downMs: number): Promise<void> {
    const slot = this.slots[index];
    const child = slot.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      slot.expectingExit = true;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    await new Promise((resolve) => setTimeout(resolve, downMs));
    await this.start(slot);
  }

  /** Stops every worker with SIGTERM, and SIGKILL after a grace time. */
  async stopAll(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.slots.map(async (slot) => {
        const child = slot.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) {
          return;
        }
        slot.expectingExit = true;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), WORKER_STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }),
    );
    await new Promise((resolve) => this.logFile.end(resolve));
  }

  private async start(slot: WorkerSlot): Promise<void> {
    slot.starts += 1;
    slot.expectingExit = false;
    slot.output = '';
    const label = `worker-${slot.index + 1}#${slot.starts}`;
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'worker'], {
      cwd: ROOT,
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    slot.child = child;
    const append = (chunk: Buffer) => {
      slot.output = (slot.output + chunk.toString()).slice(-20_000);
      this.logFile.write(prefixLines(label, chunk.toString()));
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    child.once('exit', (code, signal) => {
      this.logFile.write(`[${label}] exited: code ${code} signal ${signal}\n`);
      if (!slot.expectingExit && !this.stopping && slot.child === child) {
        const reason = `${label} exited by itself (code ${code}, signal ${signal})`;
        this.unplannedExits.push(reason);
        this.options.log(`${reason}; starting it again`);
        void this.start(slot).catch((error: unknown) =>
          this.options.log(`could not restart ${label}: ${String(error)}`),
        );
      }
    });

    await waitUntil(
      `${label} to start`,
      () => {
        if (slot.child !== child || child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`${label} exited before it started polling; see workers.log`);
        }
        return Promise.resolve(slot.output.includes('Worker started'));
      },
      WORKER_START_TIMEOUT_MS,
    );
    this.options.log(`${label} started (pid ${child.pid})`);
  }
}

/** Builds an environment that reaches only the chaos run's Temporal server, with no registry credentials. */
function workerEnvironment(runDir: string, temporalAddress: string): NodeJS.ProcessEnv {
  const home = join(runDir, 'worker-home');
  mkdirSync(join(home, '.docker'), { recursive: true });
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
    TEMPORAL_ADDRESS: temporalAddress,
    NO_COLOR: '1',
  };
}

function prefixLines(label: string, text: string): string {
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => `[${label}] ${line}\n`)
    .join('');
}

/** The Temporal dev server, restartable on the same port with the same database file. */
export class TemporalSupervisor {
  private server?: LocalTemporalServer;
  private port?: number;

  constructor(private readonly dbFile: string) {}

  get address(): string {
    if (!this.server) {
      throw new Error('the Temporal dev server has not been started');
    }
    return this.server.address;
  }

  async start(): Promise<void> {
    this.server = await startTemporalServer({ dbFile: this.dbFile, port: this.port });
    this.port = this.server.port;
  }

  /**
   * Stops the server with SIGTERM, waits `downMs`, and starts it again. Clients and workers see the frontend
   * refuse connections meanwhile and must reconnect by themselves.
   */
  async restart(downMs: number): Promise<void> {
    await this.server?.stop('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, downMs));
    await this.start();
  }

  async stop(): Promise<void> {
    await this.server?.stop('SIGTERM');
    this.server = undefined;
  }
}
