/**
 * A real Temporal dev server per test file, with connections, one workflow bundle and workers on demand.
 * Bundling takes about a second, so each file builds it once in beforeAll.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, type Worker, type WorkflowBundle } from '@temporalio/worker';
import { type LocalTemporalServer, startTemporalServer } from '../../scripts/lib/temporal-server';
import { waitUntil } from '../../scripts/lib/ports';
import type { RegistryClientOptions } from '../../src/oci/client';
import { bundleWorkflows, createWorker } from '../../src/temporal/worker';
import { FINAL_RELEASE_STATES, type ReleaseStatus, releaseStatusQuery } from '../../workflows/messages';

let runtimeInstalled = false;

/** Keeps the logs of the SDK and the workflows out of test output, except errors. */
function installQuietRuntime(): void {
  if (runtimeInstalled) {
    return;
  }
  runtimeInstalled = true;
  Runtime.install({ logger: new QuietLogger() });
}

class QuietLogger {
  log(level: string, message: string, meta?: Record<string, unknown>): void {
    if (level === 'ERROR') {
      console.warn(`[${level}] ${message}`, meta ?? '');
    }
  }
  trace(): void {}
  debug(): void {}
  info(): void {}
  warn(message: string, meta?: Record<string, unknown>): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: Record<string, unknown>): void {
    this.log('ERROR', message, meta);
  }
}

export interface TemporalTestEnvironment {
  server: LocalTemporalServer;
  client: Client;
  nativeConnection: NativeConnection;
  bundle: WorkflowBundle;
  stop(): Promise<void>;
}

/**
 * Connects a client to a test server with a one-minute deadline. The SDK's default of 10 s was too short for a
 * server that started while other test files compiled and bundled on the same two cores.
 */
export function connectTemporal(address: string): Promise<Connection> {
  return Connection.connect({ address, connectTimeout: '60s' });
}

/** Starts a dev server (search attributes registered), connects a client and a worker connection, and bundles. */
export async function startTemporalTestEnvironment(): Promise<TemporalTestEnvironment> {
  installQuietRuntime();
  const [server, bundle] = await Promise.all([startTemporalServer(), bundleWorkflows()]);
  const connection = await connectTemporal(server.address);
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const client = new Client({ connection, namespace: 'default' });
  return {
    server,
    client,
    nativeConnection,
    bundle,
    async stop() {
      await nativeConnection.close();
      await connection.close();
      await server.stop();
    },
  };
}

export interface RunningWorker {
  worker: Worker;
  stop(): Promise<void>;
}

/** Starts a worker on the environment's server and returns once it polls. */
export async function runWorker(
  environment: TemporalTestEnvironment,
  options: { taskQueue: string; registryOptions?: RegistryClientOptions; hookEnvironment?: Record<string, string> },
): Promise<RunningWorker> {
  const worker = await createWorker({
    connection: environment.nativeConnection,
    client: environment.client,
    taskQueue: options.taskQueue,
    registryOptions: options.registryOptions,
    hookEnvironment: options.hookEnvironment,
    workflowBundle: environment.bundle,
    shutdownGraceTimeMs: 1000,
  });
  const running = worker.run();
  await waitUntil('worker to run', () => Promise.resolve(worker.getState() === 'RUNNING'));
  return {
    worker,
    async stop() {
      if (worker.getState() === 'RUNNING') {
        worker.shutdown();
      }
      await running;
    },
  };
}

/** Polls a release's status query until `predicate` holds; throws with the last status when it never does. */
export async function waitForRelease(
  client: Client,
  workflowId: string,
  predicate: (status: ReleaseStatus) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<ReleaseStatus> {
  let last: ReleaseStatus | undefined;
  try {
    await waitUntil(
      what,
      async () => {
        last = await client.workflow.getHandle(workflowId).query(releaseStatusQuery);
        return predicate(last);
      },
      timeoutMs,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; last status: ${JSON.stringify(last, null, 1)}`);
  }
  return last!;
}

/** Returns true once the release has ended in any way. */
export function isFinished(status: ReleaseStatus): boolean {
  return FINAL_RELEASE_STATES.includes(status.state);
}
