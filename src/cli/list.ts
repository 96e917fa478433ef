import { type WorkflowExecutionInfo } from '@temporalio/client';
import { type Command, InvalidArgumentError } from 'commander';
import { loadPipelineFile } from '../config/load';
import { RELEASE_WORKFLOW_TYPE } from '../temporal/constants';
import { DIGEST_ATTRIBUTE, PIPELINE_ATTRIBUTE, STAGE_ATTRIBUTE, STATE_ATTRIBUTE } from '../temporal/search-attributes';
import { FINAL_RELEASE_STATES, type ReleaseState } from '../../workflows/messages';
import { runAction, withClient } from './action';
import { addCommonOptions, type ConnectionOptionValues, parsePositiveInteger } from './options';
import { formatTime, printJson, printTable, shortDigest } from './output';

const RELEASE_STATES: readonly ReleaseState[] = ['running', 'awaiting-approval', ...FINAL_RELEASE_STATES];

interface ListOptionValues extends ConnectionOptionValues {
  pipeline?: string;
  state?: ReleaseState;
  limit: number;
}

/** A release as `promote list` shows it. */
export interface ReleaseSummary {
  releaseId: string;
  pipeline?: string;
  digest?: string;
  stage?: string;
  /** The state the workflow last recorded; a terminated or timed-out workflow shows Temporal's status instead. */
  state: string;
  startedAt: string;
  closedAt?: string;
}

function parseState(value: string): ReleaseState {
  if (!(RELEASE_STATES as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`expected one of ${RELEASE_STATES.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as ReleaseState;
}

/** Builds the visibility query; values come from validated pipeline names and the fixed list of states. */
export function releaseListQuery(pipeline?: string, state?: ReleaseState): string {
  const clauses = [`WorkflowType = '${RELEASE_WORKFLOW_TYPE}'`];
  if (pipeline !== undefined) {
    clauses.push(`${PIPELINE_ATTRIBUTE.name} = '${pipeline}'`);
  }
  if (state !== undefined) {
    clauses.push(`${STATE_ATTRIBUTE.name} = '${state}'`);
  }
  return clauses.join(' AND ');
}

function summarize(info: WorkflowExecutionInfo): ReleaseSummary {
  const attributes = info.typedSearchAttributes;
  const recorded = attributes.get(STATE_ATTRIBUTE);
  const temporalStatus = info.status.name.toLowerCase().replace(/_/g, '-');
  const closedWithoutFinalState =
    info.status.name !== 'RUNNING' && !(FINAL_RELEASE_STATES as readonly string[]).includes(recorded ?? '');
  return {
    releaseId: info.workflowId,
    pipeline: attributes.get(PIPELINE_ATTRIBUTE),
    digest: attributes.get(DIGEST_ATTRIBUTE),
    stage: attributes.get(STAGE_ATTRIBUTE),
    state: closedWithoutFinalState || recorded === undefined ? temporalStatus : recorded,
    startedAt: info.startTime.toISOString(),
    closedAt: info.closeTime?.toISOString(),
  };
}

async function runList(options: ListOptionValues): Promise<void> {
  const pipeline = options.pipeline === undefined ? undefined : loadPipelineFile(options.pipeline).name;
  const query = releaseListQuery(pipeline, options.state);
  const releases = await withClient(options, async (client) => {
    const found: ReleaseSummary[] = [];
    for await (const info of client.workflow.list({ query, pageSize: Math.min(options.limit, 1000) })) {
      found.push(summarize(info));
      if (found.length >= options.limit) {
        break;
      }
    }
    return found;
  });

  if (options.json) {
    printJson(releases);
    return;
  }
  if (releases.length === 0) {
    process.stdout.write(`no releases match ${query}\n`);
    return;
  }
  printTable(
    ['release', 'state', 'stage', 'digest', 'started', 'closed'],
    releases.map((release) => [
      release.releaseId,
      release.state,
      release.stage ?? '-',
      shortDigest(release.digest),
      formatTime(release.startedAt),
      formatTime(release.closedAt),
    ]),
  );
}

/** Registers `promote list`. */
export function registerListCommand(program: Command): void {
  const command = program
    .command('list')
    .summary('List releases')
    .description('List releases, newest first, through the search attributes the release workflow sets')
    .option('--pipeline <file>', 'only releases of the pipeline in this file')
    .option('--state <state>', `only releases in this state: ${RELEASE_STATES.join(', ')}`, parseState)
    .option('--limit <count>', 'maximum number of releases listed', parsePositiveInteger, 50);
  addCommonOptions(command).action(runAction(runList));
}
