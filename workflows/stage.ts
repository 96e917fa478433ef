/**
 * One long-lived workflow per (pipeline, stage): the stage's lock and its ledger. Release and rollback workflows
 * queue for the lock (first come, first served) and get it by signal. They give it back by signal together with
 * the ledger entry of what they did. Keeping both in one workflow means an entry is recorded exactly when its lock is
 * released, and Temporal's single-threaded workflow execution serialises every change without locks of its own.
 *
 * The workflow never ends: it continues as new before its history grows large, carrying the newest ledger
 * entries, the holder and the queue.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { LEDGER_MAX_ENTRIES } from '../src/temporal/constants';
import {
  type LedgerEntry,
  ledgerQuery,
  type LockGrant,
  lockGrantedSignal,
  lockHolderCheckSignal,
  lockReleaseSignal,
  type LockRequest,
  lockRequestSignal,
  type StageInput,
  stageLockQuery,
} from './messages';

/**
 * History events after which the workflow continues as new. One lock cycle (request, grant, release with entry)
 * adds about 15 events, so this is a few hundred cycles, far below Temporal's 50,000-event limit.
 */
const DEFAULT_MAX_HISTORY_EVENTS = 5000;

/** How often the holder is checked; each check adds a timer and a signal to the history (about 8 events). */
const DEFAULT_HOLDER_CHECK_INTERVAL_MS = 60_000;

type Holder = LockRequest & { grantedAt: string };

export async function stageWorkflow(input: StageInput): Promise<void> {
  const ledger: LedgerEntry[] = input.ledger ?? [];
  const queue: LockRequest[] = input.queue ?? [];
  let holder: Holder | undefined = input.holder ? { grantedAt: new Date().toISOString(), ...input.holder } : undefined;
  let newestPromotion = input.newestPromotion;
  const maxHistoryEvents = input.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS;
  const checkInterval = input.holderCheckIntervalMs ?? DEFAULT_HOLDER_CHECK_INTERVAL_MS;
  const where = { pipeline: input.pipeline, stage: input.stage };

  const sameRequester = (a: { workflowId: string; runId: string }, b: { workflowId: string; runId: string }) =>
    a.workflowId === b.workflowId && a.runId === b.runId;

  setHandler(lockRequestSignal, (request) => {
    // An activity retry may deliver the same request twice; the second one must not queue a second turn.
    if ((holder && sameRequester(holder, request)) || queue.some((queued) => sameRequester(queued, request))) {
      return;
    }
    queue.push(request);
  });

  setHandler(lockReleaseSignal, (release) => {
    if (holder && sameRequester(holder, release)) {
      if (release.entry) {
        appendEntry(release.entry);
      }
      log.info('Stage lock released', { ...where, workflowId: release.workflowId, entry: release.entry?.kind });
      holder = undefined;
      return;
    }
    const index = queue.findIndex((queued) => sameRequester(queued, release));
    if (index >= 0) {
      queue.splice(index, 1);
    }
    if (release.entry) {
      // Only the holder may change the environment tag, so an entry from anyone else describes no real change.
      log.warn('Ledger entry from a workflow that does not hold the lock was ignored', {
        ...where,
        workflowId: release.workflowId,
        entry: release.entry.kind,
      });
    }
  });

  setHandler(ledgerQuery, (options) => {
    const limit = options?.limit;
    return limit !== undefined && limit >= 0 ? ledger.slice(Math.max(0, ledger.length - limit)) : [...ledger];
  });
  setHandler(stageLockQuery, () => ({ holder, queue: [...queue] }));

  function appendEntry(entry: LedgerEntry): void {
    if (ledger.some((existing) => existing.id === entry.id)) {
      return;
    }
    ledger.push(entry);
    const startedAt = entry.releaseStartedAt;
    if (entry.kind === 'promoted' && startedAt !== undefined) {
      if (!newestPromotion || startedAt > newestPromotion.releaseStartedAt) {
        newestPromotion = { workflowId: entry.workflowId, digest: entry.digest, releaseStartedAt: startedAt };
      }
    }
  }

  const historyIsLong = () => workflowInfo().historyLength >= maxHistoryEvents || workflowInfo().continueAsNewSuggested;

  for (;;) {
    if (holder) {
      await waitForRelease(holder);
    }
    if (historyIsLong()) {
      break;
    }
    await condition(() => queue.length > 0 || historyIsLong());
    const next = queue.shift();
    if (!next) {
      continue;
    }
    holder = { ...next, grantedAt: new Date().toISOString() };
    const grant: LockGrant = { stage: input.stage, newestPromotion, head: ledger.at(-1) };
    try {
      await getExternalWorkflowHandle(next.workflowId, next.runId).signal(lockGrantedSignal, grant);
      log.info('Stage lock granted', { ...where, workflowId: next.workflowId, digest: next.digest });
    } catch (error) {
      // The requester ended while it waited in the queue (cancelled, terminated); the next one gets the lock.
      log.warn('Stage lock requester no longer runs; skipped', {
        ...where,
        workflowId: next.workflowId,
        error: (error as Error).message,
      });
      holder = undefined;
    }
  }

  // Signals are handled synchronously, so once no handler runs, the state below is complete.
  await condition(allHandlersFinished);
  await continueAsNew<typeof stageWorkflow>({
    pipeline: input.pipeline,
    stage: input.stage,
    ledger: ledger.slice(-LEDGER_MAX_ENTRIES),
    newestPromotion,
    holder,
    queue,
    maxHistoryEvents: input.maxHistoryEvents,
    holderCheckIntervalMs: input.holderCheckIntervalMs,
  });

  /**
   * Waits until the holder gives the lock back. Every interval it signals the holder: Temporal fails that signal
   * when the holder's run has closed, and then the lock is taken back. A holder that ends normally always releases
   * first, so only terminated or timed-out workflows are caught here.
   * NOTE: such a holder may have moved tags without recording a ledger entry. Nothing compares the tags with the
   * ledger then, so the next promotion records whatever it finds as its previous digest.
   */
  async function waitForRelease(current: Holder): Promise<void> {
    while (holder === current) {
      const released = await condition(() => holder !== current || historyIsLong(), checkInterval);
      if (released) {
        return;
      }
      try {
        await getExternalWorkflowHandle(current.workflowId, current.runId).signal(lockHolderCheckSignal, {
          stage: input.stage,
        });
      } catch (error) {
        if (holder === current) {
          log.warn('Stage lock holder no longer runs; lock taken back', {
            ...where,
            workflowId: current.workflowId,
            error: (error as Error).message,
          });
          holder = undefined;
        }
      }
    }
  }
}
