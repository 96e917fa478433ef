/**
 * A fault-injecting HTTP proxy on 127.0.0.1 in front of one registry. While faults are on, a seeded share of the
 * requests fails in one of four ways. The proxy returns an error status (500, 502, 503, or 429 with Retry-After)
 * before the request reaches the registry, or returns 502 after the registry has done the work (the reply is
 * dropped). A blob GET may instead have its body cut off in the middle, or one byte of its body flipped. The decision for a request depends only on the seed, the method, the path
 * and how often that method and path were seen, so the same run plan meets the same faults.
 *
 * Every manifest PUT and final upload PUT is recorded with the digest of the bytes that passed (traffic-record.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline as pipelineCallback, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Agent, type Dispatcher, request } from 'undici';
import { hashToUnit } from './random';
import { type BodyObserver, TrafficRecorder } from './traffic-record';

/** Kinds of injected faults, as the report names them. */
export const FAULT_KINDS = ['500', '502', '503', '429', 'reply-dropped', 'cut-blob', 'flipped-byte'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Retry-After of an injected 429, in seconds. */
const RETRY_AFTER_SECONDS = 1;
/** Share of the status faults on writes (PUT, PATCH, POST, DELETE) that drop the registry's reply instead. */
const REPLY_DROPPED_SHARE = 1 / 3;
/** Shares of the faults on a blob GET that cut the body or flip a byte; the rest are error statuses. */
const CUT_BLOB_SHARE = 0.45;
const FLIPPED_BYTE_SHARE = 0.1;

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
]);
const BLOB_PATH = /^\/v2\/.+\/blobs\/sha256:[0-9a-f]{64}$/;
const WRITE_METHODS = new Set(['PUT', 'PATCH', 'POST', 'DELETE']);

export interface FaultProxyOptions {
  /** Name in reports, such as `registry-a`. */
  name: string;
  /** Registry base URL, `http://127.0.0.1:PORT`. */
  upstream: string;
  seed: number;
  /** Share of requests that get a fault while faults are on, from 0 to 1. */
  faultRate: number;
}

type Plan = { kind: 'none' } | { kind: FaultKind; fraction: number };

export class FaultProxy {
  readonly faults: Record<FaultKind, number> = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<
    FaultKind,
    number
  >;
  readonly traffic: TrafficRecorder;
  requests = 0;
  /** Faults are off until `enableFaults`, so that setup traffic passes untouched. */
  private faultsOn = false;
  private readonly seen = new Map<string, number>();
  private readonly upstream: URL;
  private readonly agent: Agent;
  private server?: Server;
  private port = 0;

  constructor(private readonly options: FaultProxyOptions) {
    this.upstream = new URL(options.upstream);
    this.traffic = new TrafficRecorder(options.name);
    this.agent = new Agent({ connections: 64, keepAliveTimeout: 10_000 });
  }

  /** `127.0.0.1:PORT`, the registry part of references that go through the proxy. */
  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  get name(): string {
    return this.options.name;
  }

  async start(): Promise<void> {
    const server = createServer((incoming, outgoing) => {
      this.handle(incoming, outgoing).catch((error: unknown) => {
        if (!outgoing.headersSent) {
          outgoing.writeHead(502, { 'content-type': 'application/json' });
          outgoing.end(registryError('UNAVAILABLE', `proxy could not reach the registry: ${String(error)}`));
        } else {
          outgoing.destroy();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  enableFaults(): void {
    this.faultsOn = true;
  }

  disableFaults(): void {
    this.faultsOn = false;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await this.agent.close();
  }

  /** Decides the fault for a request from the seed and the request's identity. */
  private plan(method: string, path: string): Plan {
    this.requests += 1;
    const key = `${method} ${path}`;
    const occurrence = (this.seen.get(key) ?? 0) + 1;
    this.seen.set(key, occurrence);
    if (!this.faultsOn) {
      return { kind: 'none' };
    }
    const identity = [this.options.seed, this.options.name, method, path, occurrence];
    if (hashToUnit(...identity, 'fault') >= this.options.faultRate) {
      return { kind: 'none' };
    }
    const choice = hashToUnit(...identity, 'kind');
    const fraction = hashToUnit(...identity, 'where');
    if (method === 'GET' && BLOB_PATH.test(path)) {
      if (choice < CUT_BLOB_SHARE) {
        return { kind: 'cut-blob', fraction };
      }
      if (choice < CUT_BLOB_SHARE + FLIPPED_BYTE_SHARE) {
        return { kind: 'flipped-byte', fraction };
      }
    }
    if (WRITE_METHODS.has(method) && hashToUnit(...identity, 'after') < REPLY_DROPPED_SHARE) {
      return { kind: 'reply-dropped', fraction };
    }
    const statuses: FaultKind[] = ['500', '502', '503', '429'];
    return { kind: statuses[Math.floor(hashToUnit(...identity, 'status') * statuses.length)], fraction };
  }

  private async handle(incoming: IncomingMessage, outgoing: ServerResponse): Promise<void> {
    const method = incoming.method ?? 'GET';
    const url = new URL(incoming.url ?? '/', 'http://proxy');
    const plan = this.plan(method, url.pathname);
    const observer = this.traffic.observe(method, url.pathname, url.searchParams);

    if (plan.kind === '500' || plan.kind === '502' || plan.kind === '503' || plan.kind === '429') {
      // The body is read and dropped, so the registry never receives this request.
      const complete = await drain(incoming, observer);
      observer?.finish({ bodyComplete: complete, forwarded: false });
      this.faults[plan.kind] += 1;
      sendFault(outgoing, Number(plan.kind));
      return;
    }

    const aborter = new AbortController();
    outgoing.once('close', () => {
      if (!outgoing.writableFinished) {
        aborter.abort();
      }
    });
    let bodyComplete = !hasBody(incoming);
    let response: Dispatcher.ResponseData;
    try {
      response = await request(new URL(incoming.url ?? '/', this.upstream), {
        method,
        headers: forwardedHeaders(incoming.headers),
        body: hasBody(incoming) ? observedBody(incoming, observer, () => (bodyComplete = true)) : undefined,
        dispatcher: this.agent,
        signal: aborter.signal,
      });
    } catch (error) {
      observer?.finish({ bodyComplete, forwarded: true });
      throw error;
    }
    observer?.finish({ bodyComplete, forwarded: true, status: response.statusCode });

    if (plan.kind === 'reply-dropped') {
      await response.body.dump();
      this.faults['reply-dropped'] += 1;
      sendFault(outgoing, 502);
      return;
    }

    outgoing.writeHead(response.statusCode, this.returnedHeaders(response.headers));
    const length = Number(response.headers['content-length']);
    if (response.statusCode === 200 && method === 'GET' && length > 0) {
      if (plan.kind === 'cut-blob') {
        this.faults['cut-blob'] += 1;
        await cutAfter(response.body, outgoing, Math.floor(length * (0.2 + 0.6 * plan.fraction)));
        return;
      }
      if (plan.kind === 'flipped-byte') {
        this.faults['flipped-byte'] += 1;
        await pipeline(response.body, flipByteAt(Math.floor(length * plan.fraction)), outgoing);
        return;
      }
    }
    await pipeline(response.body, outgoing);
  }

  /** Copies the registry's headers, pointing a Location at the registry back at the proxy. */
  private returnedHeaders(headers: Dispatcher.ResponseData['headers']): Record<string, string | string[]> {
    const result: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined || HOP_BY_HOP.has(name)) {
        continue;
      }
      result[name] = value;
    }
    const location = result.location;
    if (typeof location === 'string' && location.startsWith(this.upstream.origin)) {
      result.location = `http://${this.host}${location.slice(this.upstream.origin.length)}`;
    }
    return result;
  }
}

function hasBody(incoming: IncomingMessage): boolean {
  const length = incoming.headers['content-length'];
  return (length !== undefined && length !== '0') || incoming.headers['transfer-encoding'] !== undefined;
}

/** Copies the client's headers minus hop-by-hop ones. Host stays, so the registry builds Location URLs for the proxy. */
function forwardedHeaders(headers: IncomingMessage['headers']): Record<string, string | string[]> {
  const result: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) {
      result[name] = value;
    }
  }
  return result;
}

/**
 * Returns the request body as a stream that shows each chunk to the observer and calls `onEnd` when the body is
 * complete. A client that breaks off its request destroys the stream, which aborts the forwarded request too.
 */
function observedBody(incoming: IncomingMessage, observer: BodyObserver | undefined, onEnd: () => void): Transform {
  const body = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      observer?.update(chunk);
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      onEnd();
      callback();
    },
  });
  pipelineCallback(incoming, body, () => {
    // A broken-off body reaches the forwarded request as the stream's error.
  });
  return body;
}

/** Reads a request body to its end; returns false when the client broke it off. */
function drain(incoming: IncomingMessage, observer: BodyObserver | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    incoming.on('data', (chunk: Buffer) => observer?.update(chunk));
    incoming.once('end', () => resolve(true));
    incoming.once('error', () => resolve(false));
    incoming.once('close', () => resolve(incoming.complete));
  });
}

function registryError(code: string, message: string): string {
  return JSON.stringify({ errors: [{ code, message, detail: null }] });
}

function sendFault(outgoing: ServerResponse, status: number): void {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (status === 429) {
    headers['retry-after'] = String(RETRY_AFTER_SECONDS);
  }
  const code = status === 429 ? 'TOOMANYREQUESTS' : 'UNAVAILABLE';
  outgoing.writeHead(status, headers);
  outgoing.end(registryError(code, `fault injected by the chaos proxy (HTTP ${status})`));
}

/** Sends the first `limit` bytes of the body, then destroys the connection as a failing network would. */
async function cutAfter(body: AsyncIterable<Buffer>, outgoing: ServerResponse, limit: number): Promise<void> {
  let sent = 0;
  for await (const chunk of body) {
    if (sent + chunk.length >= limit) {
      outgoing.write(chunk.subarray(0, limit - sent));
      break;
    }
    sent += chunk.length;
    if (!outgoing.write(chunk)) {
      await new Promise((resolve) => outgoing.once('drain', resolve));
    }
  }
  // Breaking out of the loop destroyed the registry's body; give the written bytes a moment to leave.
  await new Promise((resolve) => setTimeout(resolve, 20));
  outgoing.socket?.destroy();
}

function flipByteAt(offset: number): Transform {
  let position = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      if (offset >= position && offset < position + chunk.length) {
        chunk = Buffer.from(chunk);
        chunk[offset - position] ^= 0xff;
      }
      position += chunk.length;
      callback(null, chunk);
    },
  });
}
