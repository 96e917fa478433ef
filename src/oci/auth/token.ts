import { connectionError, type FailedRequest, readErrorBody, statusError } from '../transport/failure';
import type { Exchange, ExchangeResponse } from '../transport/send';
import type { RetryOutcome } from '../transport/retry';
import type { Credential } from './credentials';
import type { TokenGrant } from './token-cache';

/** Lifetime the token spec assumes when a token server omits `expires_in`. */
const DEFAULT_EXPIRES_IN_SECONDS = 60;

/** Sends one exchange with retries; supplied by the transport. */
export type RetryingSend = (exchange: Exchange) => Promise<RetryOutcome>;

/** A token to request from the realm of a Bearer challenge. */
export interface TokenRequest {
  realm: URL;
  service?: string;
  /** `repository:team/app:pull,push` strings; none for requests outside a repository, such as `GET /v2/`. */
  scopes: string[];
  credential?: Credential;
  /** OAuth2 `client_id`, the user agent. */
  clientId: string;
  registry: string;
  repository: string;
  signal?: AbortSignal;
}

/**
 * Requests a token. An identity token (OAuth2 refresh token) is exchanged by POST, the OAuth2 flow of the docker
 * token spec, with a fallback to GET when the server returns 404 or 405 for POST. Without an identity token, a GET
 * carries the username and password as Basic auth, or no credentials for anonymous pulls. Query parameters already
 * in the realm are kept.
 */
export async function requestToken(send: RetryingSend, request: TokenRequest): Promise<TokenGrant> {
  if (request.credential?.identityToken) {
    const response = await exchange(send, request, oauthExchange(request, request.credential.identityToken));
    if (response.status !== 404 && response.status !== 405) {
      return readGrant(request, 'POST', response);
    }
    await response.body.dump();
  }
  const response = await exchange(send, request, basicExchange(request));
  return readGrant(request, 'GET', response);
}

function basicExchange(request: TokenRequest): Exchange {
  const url = new URL(request.realm);
  if (request.service) {
    url.searchParams.set('service', request.service);
  }
  for (const scope of request.scopes) {
    url.searchParams.append('scope', scope);
  }
  const headers: Record<string, string> = { 'user-agent': request.clientId };
  const { username, password } = request.credential ?? {};
  if (username !== undefined && password) {
    headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }
  return { method: 'GET', url, headers, signal: request.signal };
}

function oauthExchange(request: TokenRequest, refreshToken: string): Exchange {
  const form = new URLSearchParams({
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
    client_id: request.clientId,
  });
  if (request.service) {
    form.set('service', request.service);
  }
  if (request.scopes.length > 0) {
    form.set('scope', request.scopes.join(' '));
  }
  return {
    method: 'POST',
    url: new URL(request.realm),
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': request.clientId },
    body: form.toString(),
    signal: request.signal,
  };
}

function describeTokenRequest(request: TokenRequest, method: string, url: URL, attempts: number): FailedRequest {
  const target = request.repository ? `${request.registry}/${request.repository}` : request.registry;
  return {
    method,
    registry: request.registry,
    repository: request.repository,
    url,
    actions: [],
    attempts,
    subject: { subject: `token for ${target} from ${url.host}` },
    authentication: true,
  };
}

async function exchange(send: RetryingSend, request: TokenRequest, exchange: Exchange): Promise<ExchangeResponse> {
  const outcome = await send(exchange);
  if ('error' in outcome) {
    const failed = describeTokenRequest(request, exchange.method, exchange.url, outcome.attempts);
    throw connectionError(failed, outcome.error, outcome.retryable);
  }
  return outcome.response;
}

async function readGrant(request: TokenRequest, method: string, response: ExchangeResponse): Promise<TokenGrant> {
  const failed = describeTokenRequest(request, method, response.url, 1);
  if (response.status !== 200) {
    throw statusError(failed, response.status, await readErrorBody(response.body));
  }

  let body: Record<string, unknown>;
  try {
    body = (await response.body.json()) as Record<string, unknown>;
  } catch {
    throw statusError({ ...failed, hint: 'the token server returned something other than JSON' }, 200, []);
  }
  const token = typeof body.token === 'string' && body.token ? body.token : body.access_token;
  if (typeof token !== 'string' || !token) {
    throw statusError({ ...failed, hint: 'the token server returned neither "token" nor "access_token"' }, 200, []);
  }
  const expiresIn =
    typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_EXPIRES_IN_SECONDS;
  const refreshToken = typeof body.refresh_token === 'string' && body.refresh_token ? body.refresh_token : undefined;
  return { token, expiresInMs: expiresIn * 1000, refreshToken };
}
