import { WorkflowNotFoundError } from '@temporalio/client';
import { type Command } from 'commander';
import { loadPipelineFile } from '../config/load';
import { stageWorkflowId } from '../temporal/ids';
import { type LedgerEntry, ledgerQuery } from '../../workflows/messages';
import { runAction, withClient } from './action';
import { addCommonOptions, type ConnectionOptionValues, parsePositiveInteger, findTargetStage } from './options';
import { formatTime, printJson, printTable, shortDigest } from './output';
import { CliError, ExitCode } from './exit-codes';
import { grpcDetailsOf, withWorkerDeadline } from './status-view';

interface HistoryOptionValues extends ConnectionOptionValues {
  pipeline: string;
  limit?: number;
}

function describeApprovals(entry: LedgerEntry): string {
  const approved = entry.approvals.filter((record) => record.decision === 'approved').map((record) => record.person);
  return approved.length > 0 ? approved.join(',') : '-';
}

function describeHooks(entry: LedgerEntry): string {
  return entry.hooks.length > 0
    ? entry.hooks.map((hook) => `${hook.name}:${hook.passed ? 'passed' : 'failed'}`).join(',')
    : '-';
}

async function runHistory(stageName: string, options: HistoryOptionValues): Promise<void> {
  const pipeline = loadPipelineFile(options.pipeline);
  const stage = findTargetStage(pipeline, stageName);
  const workflowId = stageWorkflowId(pipeline.name, stage.name);

  const entries = await withClient(options, async (client) => {
    try {
      return await withWorkerDeadline(client, `the ledger query of ${workflowId}`, () =>
        client.workflow.getHandle(workflowId).query(ledgerQuery, { limit: options.limit }),
      );
    } catch (error) {
      // The stage workflow starts with the first release that reaches the stage.
      if (error instanceof WorkflowNotFoundError) {
        return [];
      }
      const details = grpcDetailsOf(error);
      if (error instanceof CliError || details === undefined) {
        throw error;
      }
      throw new CliError(
        ExitCode.Unreachable,
        `the ledger query of ${workflowId} failed (${details}); check that a worker runs ('promote worker') ` +
          'and read its log',
        { cause: error },
      );
    }
  });

  if (options.json) {
    printJson({ pipeline: pipeline.name, stage: stage.name, entries });
    return;
  }
  if (entries.length === 0) {
    process.stdout.write(`no promotions recorded in ${pipeline.name}/${stage.name}\n`);
    return;
  }
  const current = entries[entries.length - 1];
  process.stdout.write(
    `${stage.environmentTag} in ${stage.repository} is ${current.environmentDigest ?? 'absent'} ` +
      `since ${formatTime(current.at)}\n\n`,
  );
  printTable(
    ['at', 'kind', 'digest', 'tag now', 'previous', 'by', 'approved by', 'hooks', 'workflow', 'reason'],
    entries.map((entry) => [
      formatTime(entry.at),
      entry.kind,
      shortDigest(entry.digest),
      shortDigest(entry.environmentDigest),
      shortDigest(entry.previousDigest),
      entry.by,
      describeApprovals(entry),
      describeHooks(entry),
      entry.workflowId,
      entry.reason ?? '',
    ]),
  );
}

/** Registers `promote history`. */
export function registerHistoryCommand(program: Command): void {
  const command = program
    .command('history')
    .summary("Show a stage's ledger")
    .description("Show a stage's ledger, oldest first: every promotion and rollback of its environment tag")
    .argument('<stage>', 'stage name from the pipeline file')
    .requiredOption('--pipeline <file>', 'pipeline file')
    .option('--limit <count>', 'show only the newest entries', parsePositiveInteger);
  addCommonOptions(command).action(runAction(runHistory));
}
