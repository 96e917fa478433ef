import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request as the fake received it, body included. */
export interface RecordedRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** 1 for the first request with this method and path (query ignored), 2 for the second, and so on. */
  attempt: number;
  receivedAt: number;
}

/** Handles one request. A request the handler leaves unanswered gets a 404, or 200 for `GET /v2/`. */
export type ScriptedHandler = (request: RecordedRequest, response: ServerResponse) => void | Promise<void>;

/** An HTTP server on loopback that responds as a test script decides and records each request it receives. */
export interface ScriptedServer {
  /** `127.0.0.1:PORT`, or `localhost:PORT` when started with that host name. */
  host: string;
  port: number;
  url: string;
  requests: RecordedRequest[];
  /** TCP connections accepted so far. */
  readonly connections: number;
  /** Requests for one path (query ignored), in order. */
  requestsTo(path: string): RecordedRequest[];
  close(): Promise<void>;
}

/**
 * Starts the server on 127.0.0.1. `GET /v2/` returns 200 unless the handler responds to it, so clients see a registry
 * that needs no authentication. `hostName` is the name that `host` and `url` use for it.
 */
export async function startScriptedServer(handler: ScriptedHandler, hostName = '127.0.0.1'): Promise<ScriptedServer> {
  const requests: RecordedRequest[] = [];
  const pathOf = (url: string) => url.split('?')[0];

  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    const respond = async () => {
      const url = request.url ?? '/';
      const method = request.method ?? '';
      const attempt = requests.filter((seen) => seen.method === method && pathOf(seen.url) === pathOf(url)).length + 1;
      const recorded = {
        method,
        url,
        headers: request.headers,
        body: Buffer.concat(chunks),
        attempt,
        receivedAt: Date.now(),
      };
      requests.push(recorded);
      await handler(recorded, response);
      if (!response.headersSent && !response.writableEnded && !response.destroyed) {
        if (pathOf(url) === '/v2/') {
          response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        } else {
          response.writeHead(404).end();
        }
      }
    };
    request.on('end', () => void respond());
  });
  let connections = 0;
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    host: `${hostName}:${port}`,
    port,
    url: `http://${hostName}:${port}`,
    requests,
    get connections() {
      return connections;
    },
    requestsTo: (path) => requests.filter((request) => pathOf(request.url) === path),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Sends a registry's JSON error body with `status` and extra headers. */
export function replyError(
  response: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify({ errors: [{ code, message, detail: null }] }));
}
