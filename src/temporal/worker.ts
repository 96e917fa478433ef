/** The worker: runs the workflows and the activities on the product's task queue. */
import { dirname, join } from 'node:path';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode, type NativeConnection, Worker, type WorkflowBundle } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { RegistryClient, type RegistryClientOptions } from '../oci/client';
import { Transport } from '../oci/transport';
import { TASK_QUEUE } from './constants';

export interface CreateWorkerOptions {
  /** Connection the worker polls on. */
  connection: NativeConnection;
  /** Client of the same namespace; activities use it to signal-with-start the stage workflows. */
  client: Client;
  /** Default: the client's namespace. */
  namespace?: string;
  /** Default: TASK_QUEUE (`image-promoter`). */
  taskQueue?: string;
  /** Registry settings: credentials, insecure registries, retries. They stay in this process. */
  registryOptions?: RegistryClientOptions;
  /** A prebuilt workflow bundle (see bundleWorkflows); the worker bundles `workflows/` itself when absent. */
  workflowBundle?: WorkflowBundle;
  /** Extra environment variables for command hooks, such as KUBECONFIG. */
  hookEnvironment?: Record<string, string>;
  /** Activities run at once; default 20. Copies stream several blobs each, so more mostly adds contention. */
  maxConcurrentActivities?: number;
  /** Time the worker waits for running activities when it shuts down; default 10 s. */
  shutdownGraceTimeMs?: number;
}

/**
 * Path of the workflow bundle's entry point, `workflows/index`. Resolved from this file, so it works from the
 * sources (tsx, ts-jest) and from the compiled output in `dist/`.
 */
export function workflowsPath(): string {
  return require.resolve(join(dirname(__dirname), '..', 'workflows'));
}

/** Bundles the workflow code once; pass the result to several workers (tests build one bundle per file). */
export function bundleWorkflows(): Promise<WorkflowBundle> {
  return bundleWorkflowCode({ workflowsPath: workflowsPath(), logger: quietBundlerLogger });
}

/** Creates a worker for the release, stage and rollback workflows and their activities; call `run()` on it. */
export async function createWorker(options: CreateWorkerOptions): Promise<Worker> {
  const registryOptions = options.registryOptions ?? {};
  const activities = createActivities({
    registry: new RegistryClient(registryOptions),
    transport: new Transport(registryOptions),
    client: options.client,
    hookEnvironment: options.hookEnvironment,
  });
  const workflowBundle = options.workflowBundle ?? (await bundleWorkflows());

  return Worker.create({
    connection: options.connection,
    namespace: options.namespace ?? options.client.options.namespace,
    taskQueue: options.taskQueue ?? TASK_QUEUE,
    activities,
    workflowBundle,
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities ?? 20,
    shutdownGraceTime: options.shutdownGraceTimeMs ?? 10_000,
    // An activity learns of its cancellation only from the server's reply to a heartbeat. The SDK otherwise sends
    // heartbeats up to 80% of the heartbeat timeout apart (24 s for a copy), so cancelling a release would wait that
    // long before the copy or hook stops and the rollback starts.
    maxHeartbeatThrottleInterval: '2 seconds',
  });
}

/** The bundler logs each build at info level; only its warnings and errors are worth showing. */
const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string, meta?: Record<string, unknown>) => console.warn(message, meta ?? ''),
  error: (message: string, meta?: Record<string, unknown>) => console.error(message, meta ?? ''),
};
