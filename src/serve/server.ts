import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Pipeline } from '../config/schema';
import { RegistryError } from '../oci/errors';
import { baseMediaType } from '../oci/media-types';
import { manifestPushes, NOTIFICATION_CONTENT_TYPES, parseNotification } from './envelope';
import type { Logger } from './log';
import { handlePush, isSourcePush, type PushContext, type PushDecision } from './push';

/** Path registries POST notifications to. */
export const NOTIFICATIONS_PATH = '/notifications';
/** Path that returns 200 while the server runs, for load balancers and tests. */
export const HEALTH_PATH = '/healthz';

/** Options of the notification endpoint. */
export interface NotificationServerOptions {
  pipelines: Pipeline[];
  /** Shared secret the registry sends in `secretHeader`, alone or after `Bearer `. */
  secret: string;
  /** Header that carries the secret; default `authorization`. Distribution sets it from `endpoints[].headers`. */
  secretHeader?: string;
  push: PushContext;
  logger: Logger;
  /** Largest body read, in bytes; default 1 MiB. Distribution sends one event per request. */
  maxBodyBytes?: number;
}

const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

class BodyTooLargeError extends Error {}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  response.end(text);
}

/** Compares in constant time; hashing first gives both sides the same length whatever was sent. */
function secretMatches(presented: string, secret: string): boolean {
  const presentedHash = createHash('sha256').update(presented).digest();
  const secretHash = createHash('sha256').update(secret).digest();
  return timingSafeEqual(presentedHash, secretHash);
}

function presentedSecret(request: IncomingMessage, header: string): string {
  const value = request.headers[header];
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) {
    return '';
  }
  return text.startsWith('Bearer ') ? text.slice('Bearer '.length) : text;
}

async function readBody(request: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      throw new BodyTooLargeError(`body is larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Returns the request listener of the notification endpoint. It answers once every release the
 * notification calls for has been started (one start RPC per matching push, plus registry reads when a
 * trigger has image conditions). A failure answers 503 so the registry delivers the notification again;
 * that is safe because starts are idempotent per pipeline and digest.
 */
export function createNotificationListener(
  options: NotificationServerOptions,
): (request: IncomingMessage, response: ServerResponse) => void {
  const header = (options.secretHeader ?? 'authorization').toLowerCase();
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const { logger } = options;

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0];
    if (path === HEALTH_PATH && request.method === 'GET') {
      sendJson(response, 200, { status: 'ok' });
      return;
    }
    if (path !== NOTIFICATIONS_PATH) {
      sendJson(response, 404, { error: `not found; registries POST notifications to ${NOTIFICATIONS_PATH}` });
      return;
    }
    if (request.method !== 'POST') {
      sendJson(response, 405, { error: 'expected POST' }, { allow: 'POST' });
      return;
    }
    if (!secretMatches(presentedSecret(request, header), options.secret)) {
      logger.warn('notification rejected: missing or wrong secret', {
        remote: request.socket.remoteAddress ?? '',
        header,
      });
      sendJson(response, 401, { error: `missing or wrong secret in the ${header} header` });
      return;
    }
    const contentType = baseMediaType(request.headers['content-type'] ?? '');
    if (!NOTIFICATION_CONTENT_TYPES.includes(contentType)) {
      sendJson(response, 415, {
        error: `unsupported content type "${contentType}"; expected one of ${NOTIFICATION_CONTENT_TYPES.join(', ')}`,
      });
      return;
    }

    let body: string;
    try {
      body = await readBody(request, maxBodyBytes);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        sendJson(response, 413, { error: error.message }, { connection: 'close' });
        return;
      }
      throw error;
    }
    const parsed = parseNotification(body);
    if (!parsed.ok) {
      logger.warn('notification rejected: invalid body', { problems: parsed.problems.join('; ') });
      sendJson(response, 400, { error: 'invalid notification', problems: parsed.problems });
      return;
    }

    const decisions = await startReleases(options, parsed.events);
    // 503 makes the registry deliver again, which helps only when the failure can pass (Temporal or the registry
    // down); a failure that would repeat, such as a manifest deleted since the push, is answered 200 and logged.
    const retry = decisions.some((decision) => 'error' in decision && decision.retryable);
    sendJson(response, retry ? 503 : 200, { decisions });
  }

  return (request, response) => {
    handle(request, response).catch((error: unknown) => {
      logger.error('notification failed', { error: (error as Error).message });
      if (!response.headersSent) {
        sendJson(response, 500, { error: (error as Error).message });
      } else {
        response.destroy();
      }
    });
  };
}

type DecisionOrError =
  PushDecision | { pipeline: string; digest: string; tag?: string; error: string; retryable: boolean };

/** Handles every manifest push for every pipeline it concerns, concurrently; one failure does not stop the others. */
async function startReleases(
  options: NotificationServerOptions,
  events: Parameters<typeof manifestPushes>[0],
): Promise<DecisionOrError[]> {
  const seen = new Set<string>();
  const work: Promise<DecisionOrError>[] = [];
  for (const push of manifestPushes(events)) {
    for (const pipeline of options.pipelines.filter((candidate) => isSourcePush(candidate, push.repository))) {
      const key = `${pipeline.name} ${push.digest} ${push.tag ?? ''}`;
      if (seen.has(key)) {
        continue;
      }
      seen.add(key);
      work.push(decide(options, pipeline, push));
    }
  }
  return Promise.all(work);
}

async function decide(
  options: NotificationServerOptions,
  pipeline: Pipeline,
  push: ReturnType<typeof manifestPushes>[number],
): Promise<DecisionOrError> {
  const ids = { pipeline: pipeline.name, digest: push.digest, tag: push.tag ?? '', event: push.eventId ?? '' };
  try {
    const decision = await handlePush(options.push, pipeline, { ...push, via: 'notification' });
    if (decision.started) {
      options.logger.info(decision.existing ? 'release already running' : 'release started', {
        ...ids,
        rule: decision.trigger.rule ?? '',
        workflowId: decision.workflowId ?? '',
      });
    } else {
      options.logger.info('push did not start a release', { ...ids, reason: decision.note ?? 'no trigger matched' });
    }
    return decision;
  } catch (error) {
    const retryable = !(error instanceof RegistryError) || error.retryable;
    options.logger.error('push could not be handled', { ...ids, error: (error as Error).message, retryable });
    return { pipeline: pipeline.name, digest: push.digest, tag: push.tag, error: (error as Error).message, retryable };
  }
}

/** A running notification endpoint. */
export interface NotificationServer {
  readonly server: Server;
  /** `http://host:port`; POST notifications to `${url}${NOTIFICATIONS_PATH}`. */
  readonly url: string;
  close(): Promise<void>;
}

/** Starts the notification endpoint on `host:port` (port 0 picks a free one). */
export async function startNotificationServer(
  options: NotificationServerOptions & { host: string; port: number },
): Promise<NotificationServer> {
  const server = createServer(createNotificationListener(options));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
