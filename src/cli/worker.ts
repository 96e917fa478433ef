import { Client } from '@temporalio/client';
import type { Logger } from '@temporalio/common';
import { type NativeConnection } from '@temporalio/worker';
import { type Command } from 'commander';
import { DockerConfigCredentials } from '../oci/auth/docker-config';
import { connectWorkerConnection, resolveTemporalSettings } from '../temporal/client';
import { TASK_QUEUE } from '../temporal/constants';
import { registerSearchAttributes, searchAttributeCreateCommand } from '../temporal/search-attribute-setup';
import { createWorker } from '../temporal/worker';
import { runAction } from './action';
import { installWorkerLogger } from './worker-log';
import { CliError, ExitCode } from './exit-codes';
import { addCommonOptions, type ConnectionOptionValues, connectionFlagsOf, parsePositiveInteger } from './options';
import { collectRegistryHost } from './registry-option';

interface WorkerOptionValues extends ConnectionOptionValues {
  taskQueue: string;
  insecureRegistry: string[];
  hookEnv: string[];
  maxConcurrentActivities?: number;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Copies the named variables of this process's environment, for command hooks; a missing one is bad input. */
function hookEnvironment(names: string[]): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const name of names) {
    const value = process.env[name];
    if (value === undefined) {
      throw new CliError(
        ExitCode.BadInput,
        `--hook-env ${name}: the variable is not set in the worker's environment; expected the name of a set variable`,
      );
    }
    environment[name] = value;
  }
  return environment;
}

/**
 * Registers the search attributes that start and list use. A worker still runs when it may not register them (a
 * cluster or Temporal Cloud where an operator does), so the warning names the command an operator can run.
 */
async function ensureSearchAttributes(connection: NativeConnection, namespace: string, log: Logger): Promise<void> {
  const command = `'${searchAttributeCreateCommand(namespace)}'`;
  try {
    const outcome = await registerSearchAttributes(connection, namespace);
    if (outcome === 'permission-denied') {
      log.warn('No permission to register the search attributes; start and list fail until they exist', {
        namespace,
        command,
      });
    }
  } catch (error) {
    log.warn('Registering the search attributes failed; start and list fail until they exist', {
      namespace,
      error: (error as Error).message,
      command,
    });
  }
}

/**
 * Runs a worker until SIGINT or SIGTERM. The Temporal SDK's runtime handles those signals: it stops polling,
 * lets running activities finish within the shutdown grace time, and then `run()` returns.
 */
async function runWorker(options: WorkerOptionValues): Promise<void> {
  const settings = resolveTemporalSettings(connectionFlagsOf(options));
  const hookEnv = hookEnvironment(options.hookEnv);
  // A broken docker config would otherwise show only when the first release reaches a registry.
  await new DockerConfigCredentials().check();
  // Input is checked before the SDK's runtime exists: an error between installing the runtime and connecting left
  // the process running.
  const log = installWorkerLogger(Boolean(options.json));
  const connection = await connectWorkerConnection(settings);
  const client = new Client({ connection, namespace: settings.namespace });
  try {
    await ensureSearchAttributes(connection, settings.namespace, log);
    const worker = await createWorker({
      connection,
      client,
      namespace: settings.namespace,
      taskQueue: options.taskQueue,
      registryOptions: { insecureRegistries: options.insecureRegistry },
      hookEnvironment: hookEnv,
      maxConcurrentActivities: options.maxConcurrentActivities,
    });
    log.info('Worker started', {
      address: settings.address,
      namespace: settings.namespace,
      taskQueue: options.taskQueue,
      pid: process.pid,
    });
    await worker.run();
    log.info('Worker stopped', { taskQueue: options.taskQueue });
  } finally {
    await connection.close();
  }
}

/** Registers `promote worker`. */
export function registerWorkerCommand(program: Command): void {
  const command = program
    .command('worker')
    .summary('Run a worker for releases and rollbacks')
    .description(
      'Run the release, stage and rollback workflows and their activities until SIGINT or SIGTERM. Registry ' +
        'credentials come from the docker config ($DOCKER_CONFIG/config.json or ~/.docker/config.json)',
    )
    .option('--task-queue <name>', 'task queue to poll', TASK_QUEUE)
    .option('--insecure-registry <host:port>', 'registry reached over plain HTTP; repeatable', collectRegistryHost, [])
    .option(
      '--hook-env <name>',
      "pass this variable of the worker's environment to command hooks; repeatable",
      collect,
      [],
    )
    .option('--max-concurrent-activities <count>', 'activities run at once (default: 20)', parsePositiveInteger);
  addCommonOptions(command).action(runAction(runWorker));
}
