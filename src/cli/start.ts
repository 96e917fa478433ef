import { type Command } from 'commander';
import { loadPipelineFile } from '../config/load';
import { RegistryClient } from '../oci/client';
import { RegistryError } from '../oci/errors';
import { startRelease } from '../temporal/releases';
import { runAction, withClient } from './action';
import { CliError, ExitCode, exitCodeOf } from './exit-codes';
import { followWorkflow } from './follow';
import {
  addCommonOptions,
  ASSERTED_IDENTITY,
  type ConnectionOptionValues,
  defaultPerson,
  parsePerson,
  sourceReference,
} from './options';
import { formatTime, printFacts, printJson } from './output';
import { exitCodeForFinalState, formatWorkflowStatus, type WorkflowStatus } from './status-view';

interface StartOptionValues extends ConnectionOptionValues {
  pipeline: string;
  wait?: boolean;
  force?: boolean;
  as: string;
}

/** Prints one line per change of a followed release: its state and what it is doing. */
function printProgress(view: WorkflowStatus, previous: { line: string }): void {
  const line = `${view.status.state}: ${view.status.currentStep}`;
  if (line !== previous.line) {
    previous.line = line;
    process.stdout.write(`${formatTime(new Date())}  ${line}\n`);
  }
}

/** Names the source in a registry error from resolving it, the only registry call `start` makes. */
function describeResolveFailure(source: string, error: unknown): unknown {
  if (!(error instanceof RegistryError)) {
    return error;
  }
  const exitCode = exitCodeOf(error);
  if (error.status === 404) {
    return new CliError(exitCode, `source image ${source} not found: ${error.message}`, { cause: error });
  }
  const problem = exitCode === ExitCode.Unreachable ? 'cannot reach the registry of' : 'cannot resolve';
  return new CliError(exitCode, `${problem} source image ${source}: ${error.message}`, { cause: error });
}

async function runStart(sourceArgument: string | undefined, options: StartOptionValues): Promise<ExitCode> {
  const pipeline = loadPipelineFile(options.pipeline);
  const source = sourceReference(pipeline, sourceArgument).toString();
  const registry = new RegistryClient({ insecureRegistries: pipeline.insecureRegistries });

  return withClient(options, async (client) => {
    const started = await startRelease(
      client,
      { pipeline, source, startedBy: options.as, force: options.force },
      registry,
    ).catch((error: unknown) => {
      throw describeResolveFailure(source, error);
    });
    if (started.definitionChanged) {
      throw new CliError(
        ExitCode.BadInput,
        `release ${started.workflowId} of digest ${started.digest} is running with another definition of ` +
          `pipeline ${pipeline.name} than ${options.pipeline}; wait for it to end, or cancel it with ` +
          `'temporal workflow cancel --workflow-id ${started.workflowId}', then start again with --force ` +
          'to release the digest with this file',
      );
    }
    if (!options.json) {
      printFacts([
        ['release', started.workflowId],
        ['digest', started.digest],
        ['source', started.source],
        ['started by', started.existing ? undefined : options.as],
        [
          'existing',
          started.existing ? 'yes: this digest is being released already; attached to that release' : undefined,
        ],
      ]);
    }
    if (!options.wait) {
      if (options.json) {
        printJson(started);
      }
      return ExitCode.Success;
    }

    const progress = { line: '' };
    const final = await followWorkflow(client, started.workflowId, {
      onChange: (view) => {
        if (!options.json) {
          printProgress(view, progress);
        }
      },
    });
    if (options.json) {
      printJson({ ...started, status: final.status });
    } else {
      process.stdout.write('\n' + formatWorkflowStatus(final) + '\n');
    }
    return exitCodeForFinalState(final);
  });
}

/** Registers `promote start`. */
export function registerStartCommand(program: Command): void {
  const command = program
    .command('start')
    .summary('Start a release of an image through a pipeline')
    .description('Start a release: resolve the source to a digest and carry that digest through the pipeline')
    .argument(
      '[source]',
      "tag or digest in the first stage's repository, e.g. 1.4.2 or sha256:<64 hex>, or a full reference to it " +
        '(default: latest)',
    )
    .requiredOption('--pipeline <file>', 'pipeline file')
    .option('--wait', 'follow the release to its end; then exit 0 if it completed, else 1')
    .option('--force', 'release the digest again although an earlier release of it has ended')
    .option(
      '--as <name>',
      `person starting the release, who may not approve it unless a gate allows it; ${ASSERTED_IDENTITY}`,
      parsePerson,
      defaultPerson(),
    );
  addCommonOptions(command).action(runAction(runStart));
}
