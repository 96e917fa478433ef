import { WorkflowNotFoundError } from '@temporalio/client';
import { type Command } from 'commander';
import { loadPipelineFile } from '../config/load';
import type { Pipeline, Stage } from '../config/schema';
import { RegistryClient } from '../oci/client';
import { Reference } from '../oci/reference';
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

/** Time allowed for reading the environment tag from the registry; the ledger is shown without it after that. */
const TAG_READ_TIMEOUT_MS = 10_000;

/** The environment tag as the registry has it now: its digest (null when absent), or why it could not be read. */
type TagNow = { digest: string | null } | { error: string };

async function readTagNow(pipeline: Pipeline, stage: Stage): Promise<TagNow> {
  const registry = new RegistryClient({ insecureRegistries: pipeline.insecureRegistries, retry: { attempts: 2 } });
  try {
    const tagged = Reference.parse(stage.repository).withTag(stage.environmentTag);
    const digest = await registry.getTagDigest(tagged, AbortSignal.timeout(TAG_READ_TIMEOUT_MS));
    return { digest: digest ?? null };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  } finally {
    await registry.close();
  }
}

/** Describes the environment tag: as the registry has it, and as the ledger's last entry left it when they differ. */
function describeTagNow(stage: Stage, current: LedgerEntry, tagNow: TagNow): string {
  const tag = `${stage.environmentTag} in ${stage.repository}`;
  const fromLedger = `${current.environmentDigest ?? 'absent'} since ${formatTime(current.at)}`;
  if ('error' in tagNow) {
    return `${tag} was ${fromLedger} by the ledger's last entry; the registry could not be read: ${tagNow.error}`;
  }
  if (tagNow.digest === current.environmentDigest) {
    return `${tag} is ${fromLedger}`;
  }
  return (
    `${tag} is ${tagNow.digest ?? 'absent'} in the registry, but the ledger's last entry left it at ${fromLedger}; ` +
    'it was changed outside image-promoter'
  );
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

  const tagNow = await readTagNow(pipeline, stage);
  if (options.json) {
    printJson({ pipeline: pipeline.name, stage: stage.name, tagNow, entries });
    return;
  }
  if (entries.length === 0) {
    process.stdout.write(`no promotions recorded in ${pipeline.name}/${stage.name}\n`);
    return;
  }
  process.stdout.write(`${describeTagNow(stage, entries[entries.length - 1], tagNow)}\n\n`);
  printTable(
    ['at', 'kind', 'digest', 'tag after', 'previous', 'by', 'approved by', 'hooks', 'workflow', 'reason'],
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
