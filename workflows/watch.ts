import { condition, continueAsNew, log, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { WatchActivities } from '../activities/watch';
import {
  type WatchInput,
  type WatchStart,
  type WatchStatus,
  watchConfigSignal,
  watchStatusQuery,
  watchStopSignal,
} from './watch-messages';

/** History length after which the watcher continues as new; about 100 polls at 10 events each. */
const DEFAULT_MAX_HISTORY_EVENTS = 1000;
/** Releases kept in the status. */
const RECENT_STARTS = 20;

const { pollSourceTags } = proxyActivities<WatchActivities>({
  // Listing and resolving a repository with a few thousand tags takes minutes on a slow registry.
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  // A poll that keeps failing is given up and tried again at the next interval, with the same known tags.
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 3 },
});

/**
 * Polls a pipeline's source repository every `intervalMs` and starts a release for each tag that is new
 * or moved and matches a trigger. The known tags live in the workflow, so a push made while no worker ran
 * is found by the first poll after one comes back. Continues as new before its history grows large.
 */
export async function watchWorkflow(input: WatchInput): Promise<WatchStatus> {
  let pipeline = input.pipeline;
  let intervalMs = input.intervalMs;
  let known = input.known;
  let configChanged = false;
  let stopRequested = false;
  const status: WatchStatus = {
    pipeline: pipeline.name,
    intervalMs,
    polls: input.totals?.polls ?? 0,
    releasesStarted: input.totals?.releasesStarted ?? 0,
    knownTags: Object.keys(known ?? {}).length,
    recentStarts: [],
    stopped: false,
  };

  setHandler(watchStatusQuery, () => status);
  setHandler(watchStopSignal, ({ reason }) => {
    log.info('watcher stop requested', { pipeline: pipeline.name, reason: reason ?? '' });
    stopRequested = true;
  });
  setHandler(watchConfigSignal, (update) => {
    pipeline = update.pipeline ?? pipeline;
    intervalMs = update.intervalMs ?? intervalMs;
    status.intervalMs = intervalMs;
    configChanged = true;
  });

  for (;;) {
    await poll();
    if (stopRequested) {
      status.stopped = true;
      return status;
    }

    const maxHistory = input.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS;
    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength >= maxHistory) {
      await continueAsNew<typeof watchWorkflow>({
        ...input,
        pipeline,
        intervalMs,
        known,
        totals: { polls: status.polls, releasesStarted: status.releasesStarted },
      });
    }

    configChanged = false;
    await condition(() => stopRequested || configChanged, intervalMs);
    if (stopRequested) {
      status.stopped = true;
      return status;
    }
  }

  async function poll(): Promise<void> {
    const startReleases = known !== undefined || input.releaseExisting === true;
    try {
      const result = await pollSourceTags({ pipeline, known: known ?? {}, startReleases });
      known = result.known;
      status.knownTags = Object.keys(known).length;
      status.lastError = result.errors.length > 0 ? result.errors.join('; ') : undefined;
      const at = new Date().toISOString();
      for (const change of result.changes.filter((candidate) => candidate.started)) {
        const start: WatchStart = { tag: change.tag, digest: change.digest, workflowId: change.workflowId, at };
        status.recentStarts = [...status.recentStarts, start].slice(-RECENT_STARTS);
        status.releasesStarted += change.existing ? 0 : 1;
      }
    } catch (error) {
      // The known tags stay as they were, so the next poll sees the same changes again.
      status.lastError = (error as Error).message;
      log.warn('poll failed', { pipeline: pipeline.name, error: status.lastError });
    }
    status.polls += 1;
    status.lastPollAt = new Date().toISOString();
  }
}
