import { ApplicationFailure } from '@temporalio/activity';
import { DELIVERY_HEADER, EVENT_KIND_HEADER, SIGNATURE_HEADER, signWebhookBody } from '../src/events/signature';
import type { EventsWebhook, ReleaseEvent } from '../src/events/types';

/** Input of one webhook delivery. */
export interface DeliverEventInput {
  webhook: EventsWebhook;
  event: ReleaseEvent;
}

/** Time one POST may take before the attempt counts as failed and Temporal retries it. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Statuses a retry may fix: timeouts and rate limits; 5xx are retried too. */
const RETRYABLE_CLIENT_STATUSES = [408, 425, 429];

/**
 * Builds the webhook activity. The secret is read from the worker's environment at each delivery, so it
 * never enters workflow history.
 */
export function createEventActivities(options: { environment?: NodeJS.ProcessEnv } = {}) {
  const environment = options.environment ?? process.env;
  return {
    /**
     * POSTs one event, signed with HMAC-SHA256, to the pipeline's webhook. Idempotent for a receiver that
     * drops repeated delivery IDs: a retry sends the same bytes with the same ID. Non-retryable when the
     * secret is missing or the receiver rejects the event with a 4xx status (other than 408, 425, 429).
     */
    async deliverReleaseEvent({ webhook, event }: DeliverEventInput): Promise<{ status: number }> {
      const secret = environment[webhook.secretEnv];
      if (!secret) {
        throw ApplicationFailure.nonRetryable(
          `the environment variable ${webhook.secretEnv} that holds the webhook secret is not set on the worker; ` +
            'set it and restart the worker',
          'WebhookSecretMissing',
        );
      }

      const body = JSON.stringify(event);
      const response = await fetch(webhook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'image-promoter',
          [EVENT_KIND_HEADER]: event.kind,
          [DELIVERY_HEADER]: event.id,
          [SIGNATURE_HEADER]: signWebhookBody(body, secret),
        },
        body,
        // A redirect would send the signed body to a URL the pipeline file does not name.
        redirect: 'manual',
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      await response.arrayBuffer();

      if (response.status >= 200 && response.status < 300) {
        return { status: response.status };
      }
      const message = `webhook ${webhook.url} answered HTTP ${response.status} to ${event.kind} ${event.id}`;
      const retryable = response.status >= 500 || RETRYABLE_CLIENT_STATUSES.includes(response.status);
      if (retryable) {
        throw ApplicationFailure.retryable(message, 'WebhookUnavailable');
      }
      throw ApplicationFailure.nonRetryable(
        `${message}; the receiver rejected it, so it is not sent again`,
        'WebhookRejected',
      );
    },
  };
}

export type EventActivities = ReturnType<typeof createEventActivities>;
