import { Agent, type Dispatcher } from 'undici';
import type { CredentialSource } from './auth/credentials';
import { connectionError, readErrorBody, statusError } from './transport/failure';
import { registryOrigin, requestUrl } from './transport/endpoint';

export type ScopeAction = 'pull' | 'push';

/** One request to a registry's `/v2/` API. */
export interface RegistryRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  /** Registry host as references spell it: `127.0.0.1:5000`, `index.docker.io`. */
  registry: string;
  /** Repository whose scope the request needs. */
  repository: string;
  /** `/v2/<repo>/blobs/<digest>`, or an absolute URL taken from a Location header. */
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  /** A Buffer is replayed on retries; a stream is sent once and never retried. */
  body?: Buffer | NodeJS.ReadableStream | AsyncIterable<Uint8Array>;
  /** Scope actions on `repository`. */
  actions: ScopeAction[];
  /** More repositories to get pull scope on, such as the source repository of a cross-repository mount. */
  extraPullScopes?: string[];
  /** Statuses that count as success; any other becomes a RegistryError. */
  expect: number[];
  signal?: AbortSignal;
}

export interface RegistryResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The caller must consume or dump it, or the connection stays busy. */
  body: Dispatcher.ResponseData['body'];
  /** Final URL, after redirects. */
  url: string;
}

export interface TransportOptions {
  /** Default: the docker config (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`). */
  credentials?: CredentialSource;
  /** Registries reached over plain HTTP; loopback hosts always are. */
  insecureRegistries?: string[];
  retry?: { attempts?: number; minDelayMs?: number; maxDelayMs?: number; maxRetryAfterMs?: number };
  /** Default: `image-promoter`. */
  userAgent?: string;
  /** Connection pool; default: one keep-alive Agent per Transport. */
  dispatcher?: Dispatcher;
}

/** Sends requests to registries. NOTE: this version is anonymous and sends each request once. */
export class Transport {
  private readonly dispatcher: Dispatcher;
  private readonly insecureRegistries: string[];
  private readonly userAgent: string;

  constructor(options: TransportOptions = {}) {
    this.dispatcher = options.dispatcher ?? new Agent({ connections: 16, keepAliveTimeout: 30_000 });
    this.insecureRegistries = options.insecureRegistries ?? [];
    this.userAgent = options.userAgent ?? 'image-promoter';
  }

  /** Sends one request and returns the response when its status is in `request.expect`; throws RegistryError otherwise. */
  async request(request: RegistryRequest): Promise<RegistryResponse> {
    const url = requestUrl(registryOrigin(request.registry, this.insecureRegistries), request.path, request.query);
    const failed = { ...request, url, attempts: 1 };

    let response: Dispatcher.ResponseData;
    try {
      response = await this.dispatcher.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: request.method,
        headers: { 'user-agent': this.userAgent, ...request.headers },
        body: request.body as Dispatcher.DispatchOptions['body'],
        signal: request.signal,
      });
    } catch (error) {
      throw connectionError(failed, error, true);
    }

    if (!request.expect.includes(response.statusCode)) {
      throw statusError(failed, response.statusCode, await readErrorBody(response.body));
    }
    return { status: response.statusCode, headers: response.headers, body: response.body, url: url.toString() };
  }
}
