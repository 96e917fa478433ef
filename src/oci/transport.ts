import type { Dispatcher } from 'undici';
import { RegistryAuthenticator, type ScopeRequest } from './auth/authenticator';
import {
  canonicalRegistry,
  chainCredentials,
  type Credential,
  type CredentialSource,
  staticCredentials,
} from './auth/credentials';
import { DockerConfigCredentials } from './auth/docker-config';
import { TokenCache } from './auth/token-cache';
import type { RegistryError } from './errors';
import { Agent } from './transport/agent';
import { describeRequest, redactUrl } from './transport/describe';
import { registryOrigin, requestUrl } from './transport/endpoint';
import { connectionError, type FailedRequest, readErrorBody, statusError } from './transport/failure';
import { RetryPolicy, sendWithRetries, type RetryEvent, type RetryOptions, type RetryOutcome } from './transport/retry';
import { createSender, type Exchange, type ExchangeResponse, type Send } from './transport/send';

export type ScopeAction = 'pull' | 'push';

/** One request to a registry's `/v2/` API. */
export interface RegistryRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  /** Registry host as references spell it: `127.0.0.1:5000`, `index.docker.io`. */
  registry: string;
  /** Repository whose scope the request needs; empty for `GET /v2/`. */
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

/** A retry the transport is about to make; carries no credentials. */
export interface TransportRetryEvent extends RetryEvent {
  method: string;
  registry: string;
  repository: string;
  /** Redacted request URL. */
  url: string;
}

export interface TransportOptions {
  /**
   * Source of credentials. A CredentialSource replaces the default. A record of credentials by registry host is
   * consulted first, then the docker config. Default: the docker config (`$DOCKER_CONFIG/config.json`, else
   * `~/.docker/config.json`).
   */
  credentials?: CredentialSource | Record<string, Credential>;
  /** Registries reached over plain HTTP; loopback hosts (localhost, 127.0.0.0/8, ::1) always are. */
  insecureRegistries?: string[];
  retry?: RetryOptions;
  /** Default: `image-promoter`. */
  userAgent?: string;
  /** Connection pool; default: a keep-alive Agent owned by this Transport, closed by `close()`. */
  dispatcher?: Dispatcher;
  /** Called before each retry, for logging. */
  onRetry?: (event: TransportRetryEvent) => void;
}

/** Connections per origin: enough for several blob streams in parallel plus manifest and tag requests. */
export const CONNECTIONS_PER_ORIGIN = 16;

/**
 * Sends requests to registries over one connection pool, in layers: authentication (Basic, or Bearer tokens cached
 * per scope set), retries of replayable requests (429, 5xx, broken connections, honouring Retry-After) and
 * redirects (Authorization dropped on another origin). A status outside `request.expect` becomes a RegistryError.
 */
export class Transport {
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly send: Send;
  private readonly policy: RetryPolicy;
  private readonly credentials: CredentialSource;
  private readonly insecureRegistries: string[];
  private readonly userAgent: string;
  private readonly onRetry?: (event: TransportRetryEvent) => void;
  private readonly tokens = new TokenCache();
  private readonly authenticators = new Map<string, RegistryAuthenticator>();

  constructor(options: TransportOptions = {}) {
    this.ownsDispatcher = options.dispatcher === undefined;
    this.dispatcher =
      options.dispatcher ??
      new Agent({ connections: CONNECTIONS_PER_ORIGIN, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000 });
    this.send = createSender(this.dispatcher);
    this.policy = new RetryPolicy(options.retry);
    this.credentials = resolveCredentials(options.credentials);
    this.insecureRegistries = options.insecureRegistries ?? [];
    this.userAgent = options.userAgent ?? 'image-promoter';
    this.onRetry = options.onRetry;
  }

  /**
   * Sends a request, authenticated and retried as the class describes, and returns the response when its status is
   * in `request.expect`. Throws RegistryError (AuthenticationError for 401 and 403) otherwise.
   */
  async request(request: RegistryRequest): Promise<RegistryResponse> {
    const origin = this.originOf(request.registry);
    const url = requestUrl(origin, request.path, request.query);
    const authenticator = this.authenticatorFor(request.registry);
    const scope: ScopeRequest = { repository: request.repository, scopes: scopesOf(request), signal: request.signal };
    const replayable = request.body === undefined || Buffer.isBuffer(request.body);
    // An absolute URL from a Location header may point at another host, such as upload storage; credentials for
    // the registry stay with the registry.
    const authenticated = url.origin === new URL(origin).origin;

    let sent = authenticated ? await authenticator.authorization(scope) : undefined;
    let outcome = await this.sendAttempts(request, url, sent, replayable);
    let renewed = false;

    if (authenticated && 'response' in outcome && outcome.response.status === 401 && !request.expect.includes(401)) {
      const { response } = outcome;
      renewed = await authenticator.renew(scope, response.headers['www-authenticate'], sent);
      if (renewed && replayable) {
        await response.body.dump();
        sent = await authenticator.authorization(scope);
        outcome = await this.sendAttempts(request, url, sent, replayable);
      }
    }

    const failed: FailedRequest = { ...request, url, attempts: outcome.attempts };
    if (renewed && !replayable) {
      // A streaming body cannot be sent twice here, but the caller's next attempt gets the renewed authorization.
      failed.retryable = true;
      failed.hint = 'the registry rejected the token, which is now renewed; send the request again';
    }
    if ('error' in outcome) {
      throw connectionError(failed, outcome.error, outcome.retryable);
    }
    const { response } = outcome;
    if (!request.expect.includes(response.status)) {
      throw await this.statusFailure(failed, response, authenticator);
    }
    return { status: response.status, headers: response.headers, body: response.body, url: response.url.toString() };
  }

  /**
   * Learns the registry's challenge and obtains a token for these scopes before the requests that need them. Later
   * requests for a subset of these scopes reuse that token instead of requesting their own.
   */
  async authorize(
    request: Pick<RegistryRequest, 'registry' | 'repository' | 'actions' | 'extraPullScopes' | 'signal'>,
  ) {
    const scope: ScopeRequest = { repository: request.repository, scopes: scopesOf(request), signal: request.signal };
    await this.authenticatorFor(request.registry).authorization(scope);
  }

  /** Closes the connection pool if this Transport created it. */
  async close(): Promise<void> {
    if (this.ownsDispatcher) {
      await this.dispatcher.close();
    }
  }

  private sendAttempts(request: RegistryRequest, url: URL, authorization: string | undefined, replayable: boolean) {
    const headers: Record<string, string> = { 'user-agent': this.userAgent, ...request.headers };
    if (authorization) {
      headers.authorization = authorization;
    }
    const exchange: Exchange = { method: request.method, url, headers, body: request.body, signal: request.signal };
    return sendWithRetries(() => this.send(exchange), {
      policy: this.policy,
      replayable,
      accepts: (status) => request.expect.includes(status),
      signal: request.signal,
      onRetry: (event) => this.onRetry?.({ ...event, ...describeForLog(request, url) }),
    });
  }

  private async statusFailure(
    failed: FailedRequest,
    response: ExchangeResponse,
    authenticator: RegistryAuthenticator,
  ): Promise<RegistryError> {
    const details = await readErrorBody(response.body);
    if (response.url.origin !== failed.url.origin) {
      // Name the request by what it asked the registry for, but show the storage URL that failed.
      const subject = describeRequest(failed.registry, failed.repository, failed.url);
      const hint = failed.hint ?? `the registry redirected the request to ${response.url.host}`;
      return statusError({ ...failed, url: response.url, subject, hint }, response.status, details);
    }
    if (response.status === 401 && !(await authenticator.hasCredentials())) {
      const hint = `no credentials for ${failed.registry} were found; run 'docker login ${failed.registry}', or set DOCKER_CONFIG to the directory of a config.json that has them`;
      return statusError({ ...failed, hint }, response.status, details);
    }
    return statusError(failed, response.status, details);
  }

  /** Returns whether requests to `registry` go over plain HTTP: a loopback registry, or one named as insecure. */
  usesPlainHttp(registry: string): boolean {
    return this.originOf(registry).startsWith('http:');
  }

  private originOf(registry: string): string {
    return registryOrigin(registry, this.insecureRegistries);
  }

  private authenticatorFor(registry: string): RegistryAuthenticator {
    const key = canonicalRegistry(registry);
    let authenticator = this.authenticators.get(key);
    if (!authenticator) {
      authenticator = new RegistryAuthenticator({
        registry: key,
        origin: this.originOf(registry),
        credentials: this.credentials,
        tokens: this.tokens,
        send: (exchange) => this.sendAuthExchange(exchange),
        userAgent: this.userAgent,
      });
      this.authenticators.set(key, authenticator);
    }
    return authenticator;
  }

  private sendAuthExchange(exchange: Exchange): Promise<RetryOutcome> {
    return sendWithRetries(() => this.send(exchange), {
      policy: this.policy,
      replayable: true,
      accepts: () => false,
      signal: exchange.signal,
    });
  }
}

/** Returns the token scopes a request needs: its actions on its repository, and pull on each extra repository. */
export function scopesOf(request: Pick<RegistryRequest, 'repository' | 'actions' | 'extraPullScopes'>): string[] {
  const scopes: string[] = [];
  if (request.repository && request.actions.length > 0) {
    const actions = (['pull', 'push'] as const).filter((action) => request.actions.includes(action));
    scopes.push(`repository:${request.repository}:${actions.join(',')}`);
  }
  for (const repository of request.extraPullScopes ?? []) {
    if (repository !== request.repository) {
      scopes.push(`repository:${repository}:pull`);
    }
  }
  return scopes;
}

function resolveCredentials(option: TransportOptions['credentials']): CredentialSource {
  if (option === undefined) {
    return new DockerConfigCredentials();
  }
  if (typeof (option as CredentialSource).lookup === 'function') {
    return option as CredentialSource;
  }
  return chainCredentials(staticCredentials(option as Record<string, Credential>), new DockerConfigCredentials());
}

function describeForLog(request: RegistryRequest, url: URL) {
  return { method: request.method, registry: request.registry, repository: request.repository, url: redactUrl(url) };
}
