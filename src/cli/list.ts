import { type WorkflowExecutionInfo } from '@temporalio/client';
import { type Command, InvalidArgumentError } from 'commander';
import { loadPipelineFile } from '../config/load';
import { RELEASE_WORKFLOW_TYPE, ROLLBACK_WORKFLOW_TYPE } from '../temporal/constants';
import { DIGEST_ATTRIBUTE, PIPELINE_ATTRIBUTE, STAGE_ATTRIBUTE, STATE_ATTRIBUTE } from '../temporal/search-attributes';
import { FINAL_RELEASE_STATES, type ReleaseState, type RollbackState } from '../../workflows/messages';
import { runAction, withClient } from './action';
import { addCommonOptions, type ConnectionOptionValues, parsePositiveInteger } from './options';
import { formatTime, printJson, printTable, shortDigest } from './output';

/** Endings of a closed execution that Temporal records and the workflow could not: it ran no more code. */
const EXTERNAL_ENDINGS = ['terminated', 'timed-out'] as const;
type ListedState = ReleaseState | RollbackState | (typeof EXTERNAL_ENDINGS)[number];

/** States a run can still leave, so a filter on one of them also requires Temporal to report the run as running. */
const RUNNING_STATES: readonly ListedState[] = ['running', 'awaiting-approval', 'waiting-for-lock'];

/** Every state `--state` accepts: those of releases and rollbacks, and the endings Temporal records. */
const LISTED_STATES: readonly ListedState[] = [...RUNNING_STATES, ...FINAL_RELEASE_STATES, ...EXTERNAL_ENDINGS];

/** The workflows `promote list` shows, by the kind a person names them with. */
const WORKFLOW_TYPES = { release: RELEASE_WORKFLOW_TYPE, rollback: ROLLBACK_WORKFLOW_TYPE } as const;
type WorkflowKind = keyof typeof WORKFLOW_TYPES;
const KINDS = Object.keys(WORKFLOW_TYPES) as WorkflowKind[];

/** Temporal's execution statuses (as the visibility query spells them) that override the state a workflow recorded. */
const TEMPORAL_ENDINGS: Partial<Record<ListedState, string>> = {
  cancelled: 'Canceled',
  terminated: 'Terminated',
  'timed-out': 'TimedOut',
};

interface ListOptionValues extends ConnectionOptionValues {
  pipeline?: string;
  state?: ListedState;
  kind?: WorkflowKind;
  limit: number;
}

/** Filters of `promote list`. An absent field does not filter. */
export interface ListFilters {
  kind?: WorkflowKind;
  /** Pipeline name, as the pipeline file sets it. */
  pipeline?: string;
  state?: ListedState;
}

/** A release or rollback as `promote list` shows it. */
export interface WorkflowSummary {
  kind: WorkflowKind;
  workflowId: string;
  /** The workflow ID again under the name `promote status --json` uses for this kind. */
  releaseId?: string;
  rollbackId?: string;
  pipeline?: string;
  /** A release's source digest, or the digest a rollback moves its stage to once it has chosen it. */
  digest?: string;
  stage?: string;
  /** The state the workflow last recorded; a cancelled, terminated or timed-out run shows Temporal's ending instead. */
  state: string;
  startedAt: string;
  closedAt?: string;
}

function parseState(value: string): ListedState {
  if (!(LISTED_STATES as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`expected one of ${LISTED_STATES.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as ListedState;
}

function parseKind(value: string): WorkflowKind {
  if (!(KINDS as string[]).includes(value)) {
    throw new InvalidArgumentError(`expected one of ${KINDS.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as WorkflowKind;
}

/**
 * Builds the visibility query; values come from validated pipeline names and the fixed lists of kinds and states.
 * Rollbacks set the same search attributes as releases, with the target digest as PromoteDigest. A run that
 * was cancelled, terminated or timed out matches Temporal's ending, whatever state it recorded last, because a
 * terminated run still records `running` and a run cancelled while its worker was down may record `failed`.
 */
export function workflowListQuery({ kind, pipeline, state }: ListFilters): string {
  const types = (kind === undefined ? KINDS : [kind]).map((listed) => `'${WORKFLOW_TYPES[listed]}'`);
  const clauses = [`WorkflowType IN (${types.join(', ')})`];
  if (pipeline !== undefined) {
    clauses.push(`${PIPELINE_ATTRIBUTE.name} = '${pipeline}'`);
  }
  if (state !== undefined && RUNNING_STATES.includes(state)) {
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

/** Describes the filters in the words of the command line, for the message that nothing matched. */
export function describeFilters({ kind, pipeline, state }: ListFilters, namespace: string): string {
  const words = [kind === undefined ? 'releases or rollbacks' : `${kind}s`];
  if (pipeline !== undefined) {
    words.push(`of pipeline ${pipeline}`);
  }
  if (state !== undefined) {
    words.push(`in state ${state}`);
  }
  words.push(`in namespace ${namespace}`);
  return words.join(' ');
}

function summarize(info: WorkflowExecutionInfo): WorkflowSummary {
  const attributes = info.typedSearchAttributes;
  const kind: WorkflowKind = info.type === ROLLBACK_WORKFLOW_TYPE ? 'rollback' : 'release';
  return {
    kind,
    workflowId: info.workflowId,
    [kind === 'rollback' ? 'rollbackId' : 'releaseId']: info.workflowId,
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
  const filters: ListFilters = { kind: options.kind, pipeline, state: options.state };
  const query = workflowListQuery(filters);
  const { found, namespace } = await withClient(options, async (client) => {
    const summaries: WorkflowSummary[] = [];
    for await (const info of client.workflow.list({ query, pageSize: Math.min(options.limit, 1000) })) {
      summaries.push(summarize(info));
      if (summaries.length >= options.limit) {
        break;
      }
    }
    return { found: summaries, namespace: client.options.namespace };
  });

  if (options.json) {
    printJson(found);
    return;
  }
  if (found.length === 0) {
    process.stdout.write(`no ${describeFilters(filters, namespace)}\n`);
    return;
  }
  printTable(
    ['id', 'kind', 'state', 'stage', 'digest', 'started', 'closed'],
    found.map((summary) => [
      summary.workflowId,
      summary.kind,
      summary.state,
      summary.stage ?? '-',
      shortDigest(summary.digest),
      formatTime(summary.startedAt),
      formatTime(summary.closedAt),
    ]),
  );
}

/** Registers `promote list`. */
export function registerListCommand(program: Command): void {
  const command = program
    .command('list')
    .summary('List releases and rollbacks')
    .description(
      'List releases and rollbacks through the search attributes their workflows set, in the order Temporal ' +
        'returns: running ones first, newest start first, then ended ones, most recently closed first',
    )
    .option('--pipeline <file>', 'only workflows of the pipeline in this file')
    .option(
      '--state <state>',
      `only workflows in this state: ${LISTED_STATES.join(', ')} ` +
        '(superseded is for releases only, waiting-for-lock for rollbacks only)',
      parseState,
    )
    .option('--kind <kind>', `only this kind of workflow: ${KINDS.join(', ')} (default: both)`, parseKind)
    .option('--limit <count>', 'maximum number of workflows listed', parsePositiveInteger, 50);
  addCommonOptions(command).action(runAction(runList));
}
