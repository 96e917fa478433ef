/**
 * Release events for a pipeline's webhook. The release hands each event to a child workflow, which
 * delivers them one at a time, in order, through a retried activity. The release never waits for the
 * webhook: handing an event over costs one signal, a round trip to the Temporal server, and a receiver
 * that is down delays only the child. The child is abandoned when the release closes and keeps delivering.
 *
 * NOTE: a cancelled release sends no event for its cancellation, and events it emitted but had not handed
 * over when the cancellation ended it may be lost, because the release rethrows before calling `close`.
 */
import {
  CancellationScope,
  type ChildWorkflowHandle,
  condition,
  continueAsNew,
  defineSignal,
  log,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type { EventActivities } from '../activities/events';
import type { Pipeline } from '../src/config/schema';
import type { EventsWebhook, ReleaseEvent, ReleaseEventKind } from '../src/events/types';

/** Input of the delivery workflow; continue-as-new carries the undelivered events forward. */
export interface ReleaseEventsInput {
  webhook: EventsWebhook;
  pending?: ReleaseEvent[];
  closed?: boolean;
  delivered?: number;
  dropped?: number;
}

/** Hands one event to the delivery workflow. */
export const releaseEventSignal = defineSignal<[ReleaseEvent]>('releaseEvent');
/** Tells the delivery workflow that no more events follow; it ends once the queue is empty. */
export const releaseEventsClosedSignal = defineSignal('releaseEventsClosed');

/** How long the delivery workflow waits for an event or the closing signal before it ends on its own. */
const IDLE_TIMEOUT = '1 day';
const MAX_HISTORY_EVENTS = 2000;

const { deliverReleaseEvent } = proxyActivities<EventActivities>({
  startToCloseTimeout: '30 seconds',
  // About 25 minutes of attempts; then the event is dropped so the ones behind it are not held forever.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 30 },
});

/** Delivers a release's events in the order they arrive; returns how many were delivered and dropped. */
export async function releaseEventsWorkflow(
  input: ReleaseEventsInput,
): Promise<{ delivered: number; dropped: number }> {
  const queue = [...(input.pending ?? [])];
  let closed = input.closed ?? false;
  let delivered = input.delivered ?? 0;
  let dropped = input.dropped ?? 0;
  setHandler(releaseEventSignal, (event) => {
    queue.push(event);
  });
  setHandler(releaseEventsClosedSignal, () => {
    closed = true;
  });

  for (;;) {
    const ready = await condition(() => queue.length > 0 || closed, IDLE_TIMEOUT);
    if (queue.length === 0) {
      if (!ready) {
        log.warn('Release events ended without the closing signal', { delivered, dropped });
      }
      return { delivered, dropped };
    }

    const event = queue[0];
    try {
      await deliverReleaseEvent({ webhook: input.webhook, event });
      delivered += 1;
    } catch (error) {
      dropped += 1;
      log.warn('Release event dropped', { id: event.id, kind: event.kind, error: (error as Error).message });
    }
    queue.shift();

    if (workflowInfo().historyLength > MAX_HISTORY_EVENTS) {
      await continueAsNew<typeof releaseEventsWorkflow>({
        webhook: input.webhook,
        pending: queue,
        closed,
        delivered,
        dropped,
      });
    }
  }
}

/** Emits a release's events; `emit` never throws and never waits, so the release goes on whatever the webhook does. */
export class ReleaseEvents {
  private sequence = 0;
  private child?: Promise<ChildWorkflowHandle<typeof releaseEventsWorkflow>>;
  private handedOver: Promise<void> = Promise.resolve();

  constructor(
    private readonly pipeline: Pipeline,
    private readonly digest: () => string | undefined,
  ) {}

  /** Queues an event, unless the pipeline has no webhook or does not want this kind. */
  emit(kind: ReleaseEventKind, stage?: string, detail?: ReleaseEvent['detail']): void {
    const webhook = this.pipeline.events;
    if (!webhook || (webhook.kinds && !webhook.kinds.includes(kind))) {
      return;
    }
    const info = workflowInfo();
    this.sequence += 1;
    const event: ReleaseEvent = {
      id: `${info.workflowId}/${info.runId}/${this.sequence}`,
      kind,
      pipeline: this.pipeline.name,
      ...(stage === undefined ? {} : { stage }),
      digest: this.digest() ?? '',
      releaseId: info.workflowId,
      runId: info.runId,
      sequence: this.sequence,
      time: new Date().toISOString(),
      ...(detail === undefined ? {} : { detail }),
    };
    // Chained, so signals reach the child in emission order.
    this.handedOver = this.handedOver.then(() =>
      this.handOver(webhook, (handle) => handle.signal(releaseEventSignal, event)),
    );
  }

  /**
   * Waits until every event was handed to the delivery workflow and tells it no more follow. Call before the
   * release returns: a signal not yet sent when the workflow closes is never sent. This waits for the Temporal
   * server only, never for the webhook.
   */
  async close(): Promise<void> {
    if (this.child) {
      this.handedOver = this.handedOver.then(() =>
        this.handOver(this.pipeline.events!, (handle) => handle.signal(releaseEventsClosedSignal)),
      );
    }
    await this.handedOver;
  }

  private async handOver(
    webhook: EventsWebhook,
    send: (handle: ChildWorkflowHandle<typeof releaseEventsWorkflow>) => Promise<void>,
  ): Promise<void> {
    try {
      // Not cancellable, so that a cancelled release still reports what happened before.
      await CancellationScope.nonCancellable(async () => {
        this.child ??= this.startDelivery(webhook);
        await send(await this.child);
      });
    } catch (error) {
      log.warn('Release event not handed to the delivery workflow', { error: (error as Error).message });
    }
  }

  private startDelivery(webhook: EventsWebhook): Promise<ChildWorkflowHandle<typeof releaseEventsWorkflow>> {
    const info = workflowInfo();
    return startChild(releaseEventsWorkflow, {
      workflowId: `events-${info.workflowId}-${info.runId.slice(0, 8)}`,
      args: [{ webhook }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
  }
}
