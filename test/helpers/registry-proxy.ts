import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';

/** A request the proxy forwarded, with the number of request-body bytes it carried. */
export interface ProxiedRequest {
  method: string;
  path: string;
  bodyBytes: number;
}

export interface ProxyOptions {
  /**
   * Flips one bit of a byte in the GET response bodies of blob `digest`, so the client receives content that
   * does not match its digest. A number flips that offset in every GET; a list flips `offset[i]` in the i-th
   * GET and leaves later GETs intact.
   */
  corruptBlob?: { digest: string; offset: number | number[] };
  /** Cuts the connection after `afterBytes` response-body bytes of the first `times` GETs of blob `digest`. */
  resetBlob?: { digest: string; afterBytes: number; times: number };
  /**
   * Reads the first `times` requests of `method` whose path matches `path`, then neither forwards nor responds
   * to them.
   */
  stall?: { method: string; path: RegExp; times: number };
}

/** An HTTP proxy on 127.0.0.1 in front of one registry, recording what passes through it. */
export interface RegistryProxy {
  /** `127.0.0.1:PORT`, to use as the registry part of references. */
  readonly host: string;
  readonly requests: ProxiedRequest[];
  /** Request-body bytes of requests whose path matches `pattern`. */
  bodyBytes(pattern: RegExp): number;
  /** Number of requests stalled so far (see ProxyOptions.stall). */
  stalled(): number;
  close(): Promise<void>;
}

function flipByte(offset: number): Transform {
  let position = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      if (offset >= position && offset < position + chunk.length) {
        const copy = Buffer.from(chunk);
        copy[offset - position] ^= 0x01;
        chunk = copy;
      }
      position += chunk.length;
      callback(null, chunk);
    },
  });
}

function isBlobGet(request: IncomingMessage, digest: string): boolean {
  return request.method === 'GET' && (request.url ?? '').split('?')[0].endsWith(`/blobs/${digest}`);
}

/**
 * Starts a proxy that forwards every request to `target` (`http://127.0.0.1:PORT`), keeping the Host
 * header so the registry's Location headers point back at the proxy.
 */
export async function startRegistryProxy(target: string, options: ProxyOptions = {}): Promise<RegistryProxy> {
  const requests: ProxiedRequest[] = [];
  const upstream = new URL(target);
  let resets = 0;
  let corruptions = 0;
  let stalls = 0;

  const server: Server = createServer((incoming, outgoing) => {
    const record: ProxiedRequest = { method: incoming.method ?? '', path: incoming.url ?? '', bodyBytes: 0 };
    requests.push(record);
    incoming.on('data', (chunk: Buffer) => {
      record.bodyBytes += chunk.length;
    });
    const { stall } = options;
    if (stall && stalls < stall.times && incoming.method === stall.method && stall.path.test(record.path)) {
      stalls += 1;
      return;
    }

    const forwarded = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: incoming.method,
        path: incoming.url,
        headers: incoming.headers,
      },
      (response) => {
        outgoing.writeHead(response.statusCode ?? 502, response.headers);
        const { corruptBlob, resetBlob } = options;
        let flipAt: number | undefined;
        if (corruptBlob && isBlobGet(incoming, corruptBlob.digest)) {
          flipAt = typeof corruptBlob.offset === 'number' ? corruptBlob.offset : corruptBlob.offset[corruptions];
          corruptions += 1;
        }
        if (flipAt !== undefined) {
          response.pipe(flipByte(flipAt)).pipe(outgoing);
          return;
        }
        if (resetBlob && isBlobGet(incoming, resetBlob.digest) && resets < resetBlob.times) {
          resets += 1;
          let sent = 0;
          response.on('data', (chunk: Buffer) => {
            if (sent + chunk.length >= resetBlob.afterBytes) {
              outgoing.write(chunk.subarray(0, resetBlob.afterBytes - sent));
              outgoing.socket?.destroy();
              response.destroy();
              return;
            }
            sent += chunk.length;
            outgoing.write(chunk);
          });
          return;
        }
        response.pipe(outgoing);
      },
    );
    forwarded.on('error', () => outgoing.destroy());
    incoming.pipe(forwarded);
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    requests,
    stalled: () => stalls,
    bodyBytes: (pattern) =>
      requests.filter((request) => pattern.test(request.path)).reduce((sum, request) => sum + request.bodyBytes, 0),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
