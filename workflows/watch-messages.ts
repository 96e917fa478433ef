/**
 * Input, status and message definitions of the watcher workflow, which polls a pipeline's source
 * repository for registries that cannot send notifications. Clients import this file, so it holds only
 * definitions and plain types.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { Pipeline } from '../src/config/schema';

/** Workflow type name of the watcher: the function exported from `workflows/watch.ts`. */
export const WATCH_WORKFLOW_TYPE = 'watchWorkflow';

/** Returns `watch-<pipeline>`: one watcher per pipeline, so starting it twice reaches the same workflow. */
export function watchWorkflowId(pipeline: string): string {
  return `watch-${pipeline}`;
}

/** Input of the watcher; continue-as-new carries the state forward in the same shape. */
export interface WatchInput {
  pipeline: Pipeline;
  /** Time between polls, in milliseconds. */
  intervalMs: number;
  /**
   * Tag → digest of the candidate tags seen at the last poll. Absent on a new watcher, whose first poll
   * records what exists without starting releases unless `releaseExisting` is set.
   */
  known?: Record<string, string>;
  /** Whether tags present at the first poll start releases too; default false. */
  releaseExisting?: boolean;
  /** History length after which the watcher continues as new; a default applies when absent. */
  maxHistoryEvents?: number;
  /** Counters kept across continue-as-new. */
  totals?: { polls: number; releasesStarted: number };
}

/** A release the watcher started, for its status. */
export interface WatchStart {
  tag: string;
  digest: string;
  workflowId?: string;
  at: string;
}

/** State of a watcher, returned by `watchStatusQuery` and as its result when stopped. */
export interface WatchStatus {
  pipeline: string;
  intervalMs: number;
  polls: number;
  releasesStarted: number;
  /** Candidate tags known after the last poll. */
  knownTags: number;
  lastPollAt?: string;
  /** Failure of the last poll, or tags it could not handle; cleared by a clean poll. */
  lastError?: string;
  /** The last few releases started, newest last. */
  recentStarts: WatchStart[];
  stopped: boolean;
}

/** Replaces the watched pipeline or the interval, e.g. after the pipeline file changed; the next poll uses them. */
export const watchConfigSignal = defineSignal<[{ pipeline?: Pipeline; intervalMs?: number }]>('watchConfig');
/** Ends the watcher after its current poll. */
export const watchStopSignal = defineSignal<[{ reason?: string }]>('watchStop');
/** The watcher's state. */
export const watchStatusQuery = defineQuery<WatchStatus>('watchStatus');
