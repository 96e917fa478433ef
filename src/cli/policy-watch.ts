import { type Command, InvalidArgumentError, Option } from 'commander';
import { WorkflowNotFoundError } from '@temporalio/client';
import { parseDuration } from '../config/duration';
import { loadPipelineFile } from '../config/load';
import { TASK_QUEUE } from '../temporal/constants';
import {
  WATCH_WORKFLOW_TYPE,
  type WatchInput,
  watchConfigSignal,
  watchStopSignal,
  watchWorkflowId,
} from '../../workflows/watch-messages';
import { runAction, withClient } from './action';
import { CliError, ExitCode } from './exit-codes';
import { addCommonOptions, type ConnectionOptionValues } from './options';
import { printFacts, printJson } from './output';

/** Shortest poll interval accepted; polling faster mostly loads the registry. */
const MIN_INTERVAL_MS = 1000;

interface WatchOptionValues extends ConnectionOptionValues {
  interval: number;
  releaseExisting?: boolean;
  taskQueue: string;
}

function parseInterval(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined || ms < MIN_INTERVAL_MS) {
    throw new InvalidArgumentError(`expected a duration of at least 1s, e.g. 30s or 5m, got ${JSON.stringify(value)}`);
  }
  return ms;
}

/**
 * Starts the pipeline's watcher, or hands a running one the pipeline and interval given, with one
 * signal-with-start: the watcher keeps the tags it knows, so no push is lost or released twice.
 */
async function runWatch(file: string, options: WatchOptionValues): Promise<void> {
  const pipeline = loadPipelineFile(file);
  if (!pipeline.triggers) {
    throw new CliError(
      ExitCode.BadInput,
      `pipeline ${pipeline.name} in ${file} has no triggers, so a watcher would never start a release; add triggers`,
    );
  }
  const workflowId = watchWorkflowId(pipeline.name);
  const input: WatchInput = {
    pipeline,
    intervalMs: options.interval,
    releaseExisting: options.releaseExisting ?? false,
  };
  await withClient(options, async (client) => {
    const handle = await client.workflow.signalWithStart(WATCH_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: options.taskQueue,
      args: [input],
      signal: watchConfigSignal,
      signalArgs: [{ pipeline, intervalMs: options.interval }],
    });
    const result = {
      watcher: workflowId,
      runId: handle.signaledRunId,
      pipeline: pipeline.name,
      intervalMs: options.interval,
    };
    if (options.json) {
      printJson(result);
    } else {
      printFacts([
        ['watcher', workflowId],
        ['pipeline', pipeline.name],
        ['repository', pipeline.stages[0].repository],
        ['interval', `${options.interval / 1000} s`],
      ]);
    }
  });
}

/** Stops the pipeline's watcher after its current poll. */
async function runUnwatch(file: string, options: ConnectionOptionValues): Promise<void> {
  const pipeline = loadPipelineFile(file);
  const workflowId = watchWorkflowId(pipeline.name);
  await withClient(options, async (client) => {
    try {
      await client.workflow.getHandle(workflowId).signal(watchStopSignal, { reason: 'promote policy unwatch' });
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) {
        throw new CliError(ExitCode.BadInput, `no watcher runs for pipeline ${pipeline.name} (${workflowId})`, {
          cause: error,
        });
      }
      throw error;
    }
    if (options.json) {
      printJson({ watcher: workflowId, stopping: true });
    } else {
      printFacts([['watcher', `${workflowId} stops after its current poll`]]);
    }
  });
}

/** Adds `promote policy watch` and `promote policy unwatch`. */
export function registerWatchCommands(policy: Command): void {
  const watch = policy
    .command('watch')
    .description(
      'Poll the first stage repository for new or moved tags and start releases for those a trigger matches, for ' +
        'registries that cannot send notifications. Runs as a workflow on the workers; running it again updates the ' +
        'pipeline and interval. Tags present when a watcher starts are recorded, not released, unless --release-existing.',
    )
    .argument('<file>', 'pipeline file')
    .addOption(
      new Option('--interval <duration>', 'time between polls, e.g. 30s or 5m')
        .argParser(parseInterval)
        .default(60_000, '1m'),
    )
    .option('--release-existing', 'start releases for matching tags present at the first poll too')
    .option('--task-queue <name>', 'task queue the workers poll', TASK_QUEUE);
  addCommonOptions(watch).action(runAction(runWatch));

  const unwatch = policy
    .command('unwatch')
    .description("Stop the pipeline's watcher after its current poll")
    .argument('<file>', 'pipeline file');
  addCommonOptions(unwatch).action(runAction(runUnwatch));
}
