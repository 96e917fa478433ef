import { setTimeout as sleep } from 'node:timers/promises';
import type { ExchangeResponse } from './send';

/** Retry limits and delays; every field has a default. */
export interface RetryOptions {
  /** Requests sent in all, the first included. Default 5. */
  attempts?: number;
  /** Backoff before the first retry, doubled for each later one, with jitter. Default 250 ms. */
  minDelayMs?: number;
  /** Largest backoff between attempts. Default 8 s. */
  maxDelayMs?: number;
  /** Largest wait a `Retry-After` header can ask for; a longer one is cut to this. Default 30 s. */
  maxRetryAfterMs?: number;
}

/** Connection failures after which the same request may succeed, as Node and undici name them. */
const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** Returns whether a request that failed with `error` may succeed when sent again. */
export function isRetryableNetworkError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const causeCode = ((error as { cause?: { code?: unknown } } | null)?.cause ?? {}).code;
  return RETRYABLE_CODES.has(String(code)) || RETRYABLE_CODES.has(String(causeCode));
}

/** Returns true for statuses that a later identical request may not get: rate limiting and server-side failures. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 500 || status === 502 || status === 503 || status === 504;
}

/** Parses `Retry-After` as seconds or an HTTP date (RFC 9110 section 10.2.3); returns milliseconds from `now`. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) {
    return undefined;
  }
  if (/^\d+$/.test(text)) {
    return Number(text) * 1000;
  }
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Retries with exponential backoff and jitter, honouring `Retry-After` up to a cap. */
export class RetryPolicy {
  readonly attempts: number;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxRetryAfterMs: number;

  constructor(options: RetryOptions = {}) {
    this.attempts = Math.max(1, options.attempts ?? 5);
    this.minDelayMs = options.minDelayMs ?? 250;
    this.maxDelayMs = options.maxDelayMs ?? 8_000;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 30_000;
  }

  /** Returns the wait before attempt `attempt + 1`: the server's `Retry-After` if sent, else the backoff. */
  delayMs(attempt: number, retryAfter?: string | string[]): number {
    const requested = parseRetryAfter(retryAfter);
    if (requested !== undefined) {
      return Math.min(requested, this.maxRetryAfterMs);
    }
    const ceiling = Math.min(this.maxDelayMs, this.minDelayMs * 2 ** (attempt - 1));
    // Jitter in the upper half of the window spreads out parallel blob requests that failed together.
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  }
}

/** Result of a request after all attempts: the last response, or the last connection error. */
export type RetryOutcome =
  { response: ExchangeResponse; attempts: number } | { error: unknown; attempts: number; retryable: boolean };

/** A retry about to happen, for logging. */
export interface RetryEvent {
  attempt: number;
  delayMs: number;
  /** `503`, or the error code such as `ECONNRESET`. */
  reason: string;
}

/**
 * Sends a request until it gets a response that is accepted or not worth retrying, or attempts run out. Only a
 * replayable request (Buffer or no body) is sent more than once. Waits end early when `signal` aborts.
 */
export async function sendWithRetries(
  send: () => Promise<ExchangeResponse>,
  options: {
    policy: RetryPolicy;
    replayable: boolean;
    accepts: (status: number) => boolean;
    signal?: AbortSignal;
    onRetry?: (event: RetryEvent) => void;
  },
): Promise<RetryOutcome> {
  const { policy, replayable, accepts, signal, onRetry } = options;
  for (let attempt = 1; ; attempt += 1) {
    const last = !replayable || attempt >= policy.attempts;
    let response: ExchangeResponse;
    try {
      response = await send();
    } catch (error) {
      const retryable = isRetryableNetworkError(error);
      if (signal?.aborted || !retryable || last) {
        return { error, attempts: attempt, retryable };
      }
      const delayMs = policy.delayMs(attempt);
      onRetry?.({ attempt, delayMs, reason: networkErrorCode(error) });
      await sleep(delayMs, undefined, { signal });
      continue;
    }

    if (accepts(response.status) || !isRetryableStatus(response.status) || last) {
      return { response, attempts: attempt };
    }
    await response.body.dump();
    const delayMs = policy.delayMs(attempt, response.headers['retry-after']);
    onRetry?.({ attempt, delayMs, reason: String(response.status) });
    await sleep(delayMs, undefined, { signal });
  }
}

function networkErrorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'connection error';
}
