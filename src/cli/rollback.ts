import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { type Command } from 'commander';
import { loadPipelineFile } from '../config/load';
import { stageWorkflowId } from '../temporal/ids';
import { startRollback } from '../temporal/releases';
import { type LedgerEntry, ledgerQuery } from '../../workflows/messages';
import { chooseRollbackTarget } from '../../workflows/rollback-target';
import { runAction, withClient } from './action';
import { type DigestArgument, parseDigestArgument, resolveDigestArgument } from './digest-prefix';
import { CliError, ExitCode } from './exit-codes';
import { followWorkflow } from './follow';
import { addCommonOptions, type ConnectionOptionValues, defaultPerson, findTargetStage } from './options';
import { formatTime, printFacts, printJson } from './output';
import { exitCodeForFinalState, formatWorkflowStatus, grpcDetailsOf, withWorkerDeadline } from './status-view';

interface RollbackOptionValues extends ConnectionOptionValues {
  pipeline: string;
  to?: string;
  as: string;
  reason?: string;
  wait?: boolean;
}

/**
 * Picks the rollback target from the stage's ledger the way the rollback workflow does, so that a target the
 * workflow would reject ends the command with exit 2 before any workflow starts. The workflow checks again under
 * the stage's lock, because the ledger may change in between. A `--to` prefix is resolved against the digests the
 * environment tag has held. Returns the requested digest (undefined without `--to`) and the target.
 */
async function checkRollbackTarget(
  client: Client,
  pipeline: string,
  stage: string,
  toArgument?: DigestArgument,
): Promise<{ to?: string; target: string }> {
  const workflowId = stageWorkflowId(pipeline, stage);
  let ledger: LedgerEntry[];
  try {
    ledger = await withWorkerDeadline(client, `the ledger query of ${workflowId}`, () =>
      client.workflow.getHandle(workflowId).query(ledgerQuery, {}),
    );
  } catch (error) {
    // The stage workflow starts with the first release that reaches the stage, so its ledger is empty before.
    if (error instanceof WorkflowNotFoundError) {
      ledger = [];
    } else {
      throw ledgerReadError(`${pipeline}/${stage}`, workflowId, error);
    }
  }
  let to: string | undefined;
  try {
    const heldDigests = ledger.flatMap((entry) => [entry.environmentDigest, entry.previousDigest]);
    to = toArgument === undefined ? undefined : resolveDigestArgument(toArgument, heldDigests, '--to', 'the ledger');
  } catch (error) {
    if (!(error instanceof CliError)) {
      throw error;
    }
    throw new CliError(error.exitCode, `cannot roll back ${pipeline}/${stage}: ${error.message}`, { cause: error });
  }
  const choice = chooseRollbackTarget(ledger, to);
  if ('problem' in choice) {
    throw new CliError(ExitCode.BadInput, `cannot roll back ${pipeline}/${stage}: ${choice.problem}`);
  }
  return { to, target: choice.target };
}

/** Builds the error for a rollback of `stage` that did not start because its ledger could not be read. */
function ledgerReadError(stage: string, workflowId: string, error: unknown): unknown {
  if (error instanceof CliError) {
    return new CliError(error.exitCode, `rollback of ${stage} not started: ${error.message}`, { cause: error });
  }
  const details = grpcDetailsOf(error);
  if (details === undefined) {
    return error;
  }
  return new CliError(
    ExitCode.Unreachable,
    `rollback of ${stage} not started: no worker answered the ledger query of ${workflowId} (${details}); ` +
      "start one with 'promote worker', or read the worker's log if one runs",
    { cause: error },
  );
}

async function runRollback(stageName: string, options: RollbackOptionValues): Promise<ExitCode> {
  const pipeline = loadPipelineFile(options.pipeline);
  const stage = findTargetStage(pipeline, stageName);
  // The form is checked before connecting; a prefix is resolved once the ledger has been read.
  const toArgument = options.to === undefined ? undefined : parseDigestArgument(options.to, '--to');

  return withClient(options, async (client) => {
    const { to, target } = await checkRollbackTarget(client, pipeline.name, stage.name, toArgument);
    const handle = await startRollback(client, {
      pipeline,
      stage: stage.name,
      to,
      requestedBy: options.as,
      reason: options.reason,
    });
    const rollbackId = handle.workflowId;
    if (!options.json) {
      printFacts([
        ['rollback', rollbackId],
        ['stage', `${pipeline.name}/${stage.name} (${stage.repository}:${stage.environmentTag})`],
        ['target', to ?? `${target} (the last good digest before the current one)`],
        [
          'approval',
          stage.approval
            ? `needs ${stage.approval.required} of ${stage.approval.approvers.join(', ')}: ` +
              `promote approve ${rollbackId} --stage ${stage.name} --digest ${target}`
            : undefined,
        ],
      ]);
    }
    if (!options.wait) {
      if (options.json) {
        printJson({ rollbackId, pipeline: pipeline.name, stage: stage.name, to });
      }
      return ExitCode.Success;
    }

    let previousStep = '';
    const final = await followWorkflow(client, rollbackId, {
      onChange: (view) => {
        const line = `${view.status.state}: ${view.status.currentStep}`;
        if (!options.json && line !== previousStep) {
          previousStep = line;
          process.stdout.write(`${formatTime(new Date())}  ${line}\n`);
        }
      },
    });
    if (options.json) {
      printJson(final.status);
    } else {
      process.stdout.write('\n' + formatWorkflowStatus(final) + '\n');
    }
    return exitCodeForFinalState(final);
  });
}

/** Registers `promote rollback`. */
export function registerRollbackCommand(program: Command): void {
  const command = program
    .command('rollback')
    .summary("Move a stage's environment tag back to an earlier digest")
    .description(
      "Move a stage's environment tag back to an earlier digest from its ledger, under the stage's lock and " +
        'behind its approval gate',
    )
    .argument('<stage>', 'stage name from the pipeline file')
    .requiredOption('--pipeline <file>', 'pipeline file')
    .option(
      '--to <digest>',
      'digest to go back to, or a unique prefix of 12 or more hex digits; it must be in the ledger ' +
        '(default: the last good one before now)',
    )
    .option('--reason <text>', 'reason recorded in the ledger')
    .option('--as <name>', 'person requesting the rollback', defaultPerson())
    .option('--wait', 'follow the rollback to its end; then exit 0 if it completed, else 1');
  addCommonOptions(command).action(runAction(runRollback));
}
