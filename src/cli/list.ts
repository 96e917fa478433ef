import { type WorkflowExecutionInfo } from '@temporalio/client';
import { type Command, InvalidArgumentError } from 'commander';
import { loadPipelineFile } from '../config/load';
import { RELEASE_WORKFLOW_TYPE } from '../temporal/constants';
import { DIGEST_ATTRIBUTE, PIPELINE_ATTRIBUTE, STAGE_ATTRIBUTE, STATE_ATTRIBUTE } from '../temporal/search-attributes';
import { FINAL_RELEASE_STATES, type ReleaseState } from '../../workflows/messages';
import { runAction, withClient } from './action';
import { addCommonOptions, type ConnectionOptionValues, parsePositiveInteger } from './options';
import { formatTime, printJson, printTable, shortDigest } from './output';

/** Endings of a closed execution that Temporal records and the workflow could not: it ran no more code. */
const EXTERNAL_ENDINGS = ['terminated', 'timed-out'] as const;
type ListedState = ReleaseState | (typeof EXTERNAL_ENDINGS)[number];

const RELEASE_STATES: readonly ListedState[] = [
  'running',
  'awaiting-approval',
  ...FINAL_RELEASE_STATES,
  ...EXTERNAL_ENDINGS,
];

/** Temporal's execution statuses (as the visibility query spells them) that override the state a release recorded. */
const TEMPORAL_ENDINGS: Partial<Record<ListedState, string>> = {
  cancelled: 'Canceled',
  terminated: 'Terminated',
  'timed-out': 'TimedOut',
};

interface ListOptionValues extends ConnectionOptionValues {
  pipeline?: string;
  state?: ListedState;
  limit: number;
}

/** A release as `promote list` shows it. */
export interface ReleaseSummary {
  releaseId: string;
  pipeline?: string;
  digest?: string;
  stage?: string;
  /** The state the workflow last recorded; a cancelled, terminated or timed-out run shows Temporal's ending instead. */
  state: string;
  startedAt: string;
  closedAt?: string;
}

function parseState(value: string): ListedState {
  if (!(RELEASE_STATES as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`expected one of ${RELEASE_STATES.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as ListedState;
}

/**
 * Builds the visibility query; values come from validated pipeline names and the fixed list of states. A run that
 * was cancelled, terminated or timed out matches Temporal's ending, whatever state it recorded last, because a
 * terminated run still records `running` and a run cancelled while its worker was down may record `failed`.
 */
export function releaseListQuery(pipeline?: string, state?: ListedState): string {
  const clauses = [`WorkflowType = '${RELEASE_WORKFLOW_TYPE}'`];
  if (pipeline !== undefined) {
    clauses.push(`${PIPELINE_ATTRIBUTE.name} = '${pipeline}'`);
  }
  if (state === 'running' || state === 'awaiting-approval') {
    clauses.push(`${STATE_ATTRIBUTE.name} = '${state}'`, `ExecutionStatus = 'Running'`);
  } else if (state === 'cancelled') {
    clauses.push(`(${STATE_ATTRIBUTE.name} = 'cancelled' OR ExecutionStatus = 'Canceled')`);
  } else if (state !== undefined && TEMPORAL_ENDINGS[state] !== undefined) {
    clauses.push(`ExecutionStatus = '${TEMPORAL_ENDINGS[state]}'`);
  } else if (state !== undefined) {
    const endings = Object.values(TEMPORAL_ENDINGS).map((ending) => `'${ending}'`);
    clauses.push(`${STATE_ATTRIBUTE.name} = '${state}'`, `ExecutionStatus NOT IN (${endings.join(', ')})`);
  }
  return clauses.join(' AND ');
}

/** Returns the state to show: Temporal's ending for a run stopped from outside, else the state the release recorded. */
export function shownState(temporalStatus: string, recorded: string | undefined): string {
  const ending = { CANCELLED: 'cancelled', TERMINATED: 'terminated', TIMED_OUT: 'timed-out' }[temporalStatus];
  if (ending !== undefined) {
    return ending;
  }
  const closedWithoutFinalState =
    temporalStatus !== 'RUNNING' && !(FINAL_RELEASE_STATES as readonly string[]).includes(recorded ?? '');
  if (closedWithoutFinalState || recorded === undefined) {
    return temporalStatus.toLowerCase().replace(/_/g, '-');
  }
  return recorded;
}

function summarize(info: WorkflowExecutionInfo): ReleaseSummary {
  const attributes = info.typedSearchAttributes;
  return {
    releaseId: info.workflowId,
    pipeline: attributes.get(PIPELINE_ATTRIBUTE),
    digest: attributes.get(DIGEST_ATTRIBUTE),
    stage: attributes.get(STAGE_ATTRIBUTE),
    state: shownState(info.status.name, attributes.get(STATE_ATTRIBUTE)),
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
    .description(
      'List releases through the search attributes the release workflow sets, in the order Temporal returns: ' +
        'running releases first, newest start first, then ended ones, most recently closed first',
    )
    .option('--pipeline <file>', 'only releases of the pipeline in this file')
    .option('--state <state>', `only releases in this state: ${RELEASE_STATES.join(', ')}`, parseState)
    .option('--limit <count>', 'maximum number of releases listed', parsePositiveInteger, 50);
  addCommonOptions(command).action(runAction(runList));
}
