import type { Dispatcher } from 'undici';

/** One HTTP exchange, before redirects. */
export interface Exchange {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: Buffer | NodeJS.ReadableStream | AsyncIterable<Uint8Array> | string;
  signal?: AbortSignal;
}

export interface ExchangeResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  /** Final URL, after redirects. */
  url: URL;
}

export type Send = (exchange: Exchange) => Promise<ExchangeResponse>;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Registries redirect a blob GET once or twice (to a CDN or signed storage URL); more than this is a loop. */
const MAX_REDIRECTS = 10;

/** Thrown when a redirect chain is too long or points somewhere that is not HTTP. */
export class RedirectError extends Error {
  readonly code = 'ERR_REDIRECT';
}

/**
 * Returns a function that sends one exchange and follows redirects of GET and HEAD requests. A redirect to another
 * origin drops the Authorization header for the rest of the chain, because blob redirects point at storage hosts
 * that must never see registry credentials. Other methods get their 3xx response back unchanged.
 */
export function createSender(dispatcher: Dispatcher): Send {
  return async function send(exchange) {
    const follows = exchange.method === 'GET' || exchange.method === 'HEAD';
    const origin = exchange.url.origin;
    let url = exchange.url;
    let headers = exchange.headers;

    for (let redirects = 0; ; redirects += 1) {
      const response = await dispatcher.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: exchange.method,
        headers,
        body: exchange.body as Dispatcher.DispatchOptions['body'],
        signal: exchange.signal,
      });
      const location = response.headers.location;
      if (!follows || !REDIRECT_STATUSES.has(response.statusCode) || typeof location !== 'string') {
        return { status: response.statusCode, headers: response.headers, body: response.body, url };
      }

      await response.body.dump();
      if (redirects >= MAX_REDIRECTS) {
        throw new RedirectError(`more than ${MAX_REDIRECTS} redirects, the last to ${location.split('?')[0]}`);
      }
      const next = new URL(location, url);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new RedirectError(`redirect to unsupported scheme ${next.protocol}`);
      }
      if (next.origin !== origin) {
        headers = withoutAuthorization(headers);
      }
      url = next;
    }
  };
}

function withoutAuthorization(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== 'authorization'));
}
