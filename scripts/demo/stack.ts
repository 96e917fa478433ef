/**
 * The demo's local stack: a Temporal dev server with its web UI and a database file, two registries with their
 * storage in the demo folder, the generated pipeline file and a `promote worker`. It remembers every process it
 * started, so that stopping (or Ctrl-C) ends exactly those, by PID.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPipelineFile } from '../../src/config/load';
import type { Pipeline } from '../../src/config/schema';
import { waitUntil } from '../lib/ports';
import { type LocalRegistry, startRegistry } from '../lib/registry';
import { type LocalTemporalServer, startTemporalServer } from '../lib/temporal-server';
import { PromoteCli } from './cli';
import type { StepLog } from './step-log';
import {
  choosePorts,
  commandLineOf,
  type DemoPorts,
  type DemoProcess,
  type DemoState,
  readState,
  stopLeftovers,
  writeState,
} from './state';

/** Registry hosts in examples/pipeline.yaml, keyed by the demo registry that replaces each. */
const EXAMPLE_HOSTS = { registryA: 'localhost:5001', registryB: 'localhost:5002' } as const;

export class DemoStack {
  state!: DemoState;
  ports!: DemoPorts;
  temporal!: LocalTemporalServer;
  registryA!: LocalRegistry;
  registryB!: LocalRegistry;
  cli!: PromoteCli;
  pipeline!: Pipeline;
  /** Path of the generated pipeline file, relative to the repository root when it lies inside it. */
  pipelineFile!: string;
  /** True when the run before this one did not finish, so releases it started may still be running. */
  previousRunInterrupted = false;
  private readonly started: { name: string; process: ChildProcess; stop: () => Promise<void> }[] = [];
  /** Set by stop(): a process that start() brings up afterwards is stopped at once, and start() goes no further. */
  private stopping = false;
  /** Stops of processes that start() brought up after stop() was called. */
  private readonly lateStops: Promise<void>[] = [];

  constructor(
    private readonly root: string,
    readonly dir: string,
    private readonly log: StepLog,
  ) {}

  /** Returns the web UI's page of one workflow run. */
  uiUrl(workflowId: string, runId?: string): string {
    const run = runId ? `/${encodeURIComponent(runId)}` : '';
    return `${this.temporal.uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}${run}/history`;
  }

  async start(): Promise<void> {
    this.state = readState(this.dir);
    const stopped = await stopLeftovers(this.state.processes);
    if (stopped.length > 0) {
      this.log.step(
        `stopped ${stopped.length} processes a killed run left behind (pids ${stopped.map((p) => p.pid).join(', ')})`,
      );
    }
    this.previousRunInterrupted = !this.state.finished;
    this.ports = await choosePorts(this.state.ports);
    this.state = { runs: this.state.runs + 1, finished: false, ports: this.ports, processes: [] };
    writeState(this.dir, this.state);

    const dbFile = join(this.dir, 'temporal.db');
    const reused = fileExists(dbFile);
    const logFile = join(this.dir, 'temporal.log');
    this.temporal = await startTemporalServer({ dbFile, port: this.ports.temporal, uiPort: this.ports.ui, logFile });
    this.track('temporal', this.temporal.process, true, () => this.temporal.stop());
    // The gRPC port opens before the web UI serves pages; the address printed below must already work.
    await waitUntil(`Temporal web UI on ${this.temporal.uiUrl}`, async () => (await fetch(this.temporal.uiUrl!)).ok);
    this.log.step(
      `Temporal dev server on ${this.temporal.address}, web UI ${this.temporal.uiUrl}, state in ` +
        `${this.relative(dbFile)}${reused ? ' (kept from the last run)' : ''} (pid ${this.temporal.process.pid})`,
    );

    this.registryA = await this.startRegistry('registry-a', this.ports.registryA, 'dev and test');
    this.registryB = await this.startRegistry('registry-b', this.ports.registryB, 'staging and prod');
    this.writePipeline();

    this.cli = new PromoteCli(this.root, this.dir, this.temporal.address);
    await this.startWorker();
    this.throwIfStopping();
  }

  /** Marks the run as finished in the state file, so the next run does not look for releases it left running. */
  finish(): void {
    this.state.finished = true;
    writeState(this.dir, this.state);
  }

  /**
   * Stops every process the demo started, each by its PID: the worker first, so that it does not poll a server
   * that is going away, then the registries and the Temporal server together.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    const worker = this.started.filter((entry) => entry.name === 'worker');
    const others = this.started.filter((entry) => entry.name !== 'worker');
    await Promise.all(worker.map((entry) => entry.stop().catch(() => undefined)));
    await Promise.all(others.map((entry) => entry.stop().catch(() => undefined)));
    await Promise.all(this.lateStops);
    this.started.length = 0;
    if (this.state !== undefined) {
      this.state.processes = [];
      writeState(this.dir, this.state);
    }
  }

  /**
   * Leaves the stack running after this process exits: its processes stay recorded in the state file, so that
   * `npm run demo -- --stop` or the next run stops them. Returns them.
   */
  keep(): DemoProcess[] {
    return this.state.processes;
  }

  /** PIDs of the processes still running, for the line printed on Ctrl-C. */
  pids(): number[] {
    return this.started.map((entry) => entry.process.pid).filter((pid): pid is number => pid !== undefined);
  }

  private async startRegistry(name: string, port: number, stages: string): Promise<LocalRegistry> {
    const storageDir = join(this.dir, name);
    this.throwIfStopping();
    const registry = await startRegistry({ port, storageDir });
    this.track(name, registry.process, true, () => registry.stop());
    this.log.step(
      `${name} on ${registry.host} for ${stages}, storage in ${this.relative(storageDir)} (pid ${registry.process.pid})`,
    );
    return registry;
  }

  /**
   * Writes the example pipeline with the demo's registry hosts in place of localhost:5001 and localhost:5002. The
   * text is rewritten, not re-serialised, so the generated file keeps the example's comments.
   */
  private writePipeline(): void {
    const example = readFileSync(join(this.root, 'examples', 'pipeline.yaml'), 'utf8');
    let text = example
      .replaceAll(EXAMPLE_HOSTS.registryA, this.registryA.host)
      .replaceAll(EXAMPLE_HOSTS.registryB, this.registryB.host);
    text = `# Generated by scripts/demo.ts from examples/pipeline.yaml with the demo's registry ports.\n${text}`;
    const path = join(this.dir, 'pipeline.yaml');
    writeFileSync(path, text);
    this.pipeline = loadPipelineFile(path);
    const hosts = this.pipeline.stages.map((stage) => stage.repository.split('/')[0]);
    const expected = [this.registryA.host, this.registryA.host, this.registryB.host, this.registryB.host];
    if (hosts.join(' ') !== expected.join(' ')) {
      throw new Error(
        `examples/pipeline.yaml should name ${EXAMPLE_HOSTS.registryA} for dev and test and ` +
          `${EXAMPLE_HOSTS.registryB} for staging and prod; the generated pipeline has ${hosts.join(', ')}`,
      );
    }
    this.pipelineFile = this.relative(path);
    this.log.step(
      `pipeline ${this.pipeline.name}: ${this.pipelineFile}, examples/pipeline.yaml on the demo's registries`,
    );
  }

  private async startWorker(): Promise<void> {
    this.throwIfStopping();
    const logFile = join(this.dir, 'worker.log');
    const offset = fileExists(logFile) ? statSync(logFile).size : 0;
    const worker = this.cli.spawnWorker(logFile);
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    this.track('worker', worker, false, async () => {
      if (worker.exitCode === null && worker.signalCode === null) {
        worker.kill('SIGTERM');
        const timer = setTimeout(() => worker.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
    });
    const newOutput = () => readFileSync(logFile, 'utf8').slice(offset);
    await waitUntil(
      'promote worker to start',
      () => {
        if (worker.exitCode !== null) {
          throw new Error(`promote worker exited with code ${worker.exitCode}:\n${newOutput()}`);
        }
        return Promise.resolve(newOutput().includes('Worker started'));
      },
      120_000,
    );
    this.remember('worker', worker);
    this.log.step(
      `promote worker polling task queue image-promoter, log in ${this.relative(logFile)} (pid ${worker.pid})`,
    );
  }

  /** Stops start() between two processes once stop() has been called. */
  private throwIfStopping(): void {
    if (this.stopping) {
      throw new Error('the demo is stopping');
    }
  }

  /**
   * Remembers a process to stop, and records it in the state file unless `record` is false. A process that came
   * up after stop() was called is stopped at once.
   */
  private track(name: string, child: ChildProcess, record: boolean, stop: () => Promise<void>): void {
    if (this.stopping) {
      this.lateStops.push(stop().catch(() => undefined));
      return;
    }
    this.started.push({ name, process: child, stop });
    if (record) {
      this.remember(name, child);
    }
  }

  /**
   * Records a running process in the state file, so that a later run can stop it if this one is killed. Called
   * once the process is ready: before its exec, a child's command line is still the parent's.
   */
  private remember(name: string, child: ChildProcess): void {
    const pid = child.pid;
    const commandLine = pid === undefined ? undefined : commandLineOf(pid);
    if (pid !== undefined && commandLine !== undefined) {
      const entry: DemoProcess = { name, pid, commandLine };
      this.state.processes.push(entry);
      writeState(this.dir, this.state);
    }
  }

  private relative(path: string): string {
    return path.startsWith(this.root + '/') ? path.slice(this.root.length + 1) : path;
  }
}

function fileExists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}
