import { type Challenge, parseChallenges } from './challenge';
import type { Credential, CredentialSource } from './credentials';
import { requestToken, type RetryingSend } from './token';
import { TokenCache } from './token-cache';
import { AuthenticationError } from '../errors';
import { redactUrl } from '../transport/describe';
import { connectionError } from '../transport/failure';

/** Dependencies an authenticator gets from the transport that owns it. */
export interface AuthenticatorContext {
  /** Registry host as references spell it. */
  registry: string;
  /** `http://127.0.0.1:5000` or `https://registry.example.com`. */
  origin: string;
  credentials: CredentialSource;
  tokens: TokenCache;
  send: RetryingSend;
  userAgent: string;
}

/** The scopes a request needs, and the repository that names them in errors. */
export interface ScopeRequest {
  repository: string;
  /** `repository:team/app:pull,push` strings. */
  scopes: string[];
  signal?: AbortSignal;
}

/**
 * Authenticates requests to one registry. It learns the registry's challenge once by `GET /v2/`, so even a request
 * with a streaming body carries credentials on its first and only attempt, then produces Basic or Bearer
 * authorization per request, with Bearer tokens cached by scope set.
 */
export class RegistryAuthenticator {
  private challenge?: Promise<Challenge | undefined>;
  private credential?: Promise<Credential | undefined>;
  /** Scopes a registry asked for in an `insufficient_scope` challenge, added to later token requests of a key. */
  private readonly extraScopes = new Map<string, string[]>();

  constructor(private readonly context: AuthenticatorContext) {}

  /** Returns the Authorization header value for a request, or undefined when the registry needs none. */
  async authorization(request: ScopeRequest): Promise<string | undefined> {
    const challenge = await this.learnChallenge(request);
    if (!challenge) {
      return undefined;
    }
    const credential = await this.lookupCredential();
    if (challenge.scheme === 'basic') {
      return basicAuthorization(credential);
    }
    if (credential?.registryToken) {
      return `Bearer ${credential.registryToken}`;
    }
    return `Bearer ${await this.bearerToken(challenge, credential, request)}`;
  }

  /**
   * Handles a 401: adopts a challenge the registry had not sent before, or drops a rejected token (expired, or
   * missing a scope the challenge names). Returns true when sending the request again with a new authorization can
   * succeed; the caller does that once.
   */
  async renew(
    request: ScopeRequest,
    header: string | string[] | undefined,
    sent: string | undefined,
  ): Promise<boolean> {
    const fresh = pickChallenge(parseChallenges(header));
    if (!fresh) {
      return false;
    }
    const known = await this.challenge?.catch(() => undefined);
    if (known?.scheme !== fresh.scheme) {
      // The registry let `GET /v2/` through anonymously but guards this repository, or changed its scheme.
      this.challenge = Promise.resolve(fresh);
      return fresh.scheme === 'bearer' || basicAuthorization(await this.lookupCredential()) !== undefined;
    }
    const fixedToken = (await this.lookupCredential())?.registryToken !== undefined;
    if (fresh.scheme !== 'bearer' || !sent?.startsWith('Bearer ') || fixedToken) {
      return false;
    }

    this.challenge = Promise.resolve(fresh);
    const key = TokenCache.key(this.context.registry, request.scopes);
    const wanted = (fresh.params.scope ?? '').split(' ').filter(Boolean);
    this.extraScopes.set(key, [...new Set([...(this.extraScopes.get(key) ?? []), ...wanted])]);
    await this.context.tokens.invalidate(sent.slice('Bearer '.length));
    return true;
  }

  /** Returns whether any credentials were found for the registry, for error hints. */
  async hasCredentials(): Promise<boolean> {
    return (await this.lookupCredential().catch(() => undefined)) !== undefined;
  }

  private lookupCredential(): Promise<Credential | undefined> {
    if (!this.credential) {
      const lookup = this.context.credentials.lookup(this.context.registry);
      this.credential = lookup;
      // A failed lookup (a credential helper that timed out, say) is tried again by the next request.
      lookup.catch(() => {
        if (this.credential === lookup) {
          this.credential = undefined;
        }
      });
    }
    return this.credential;
  }

  private learnChallenge(request: ScopeRequest): Promise<Challenge | undefined> {
    if (!this.challenge) {
      const ping = this.ping(request);
      this.challenge = ping;
      ping.catch(() => {
        if (this.challenge === ping) {
          this.challenge = undefined;
        }
      });
    }
    return this.challenge;
  }

  /** `GET /v2/`: 401 carries the challenge; any other status means no authentication is needed there. */
  private async ping(request: ScopeRequest): Promise<Challenge | undefined> {
    const url = new URL('/v2/', this.context.origin);
    const outcome = await this.context.send({
      method: 'GET',
      url,
      headers: { 'user-agent': this.context.userAgent },
      signal: request.signal,
    });
    if ('error' in outcome) {
      const failed = {
        method: 'GET',
        registry: this.context.registry,
        repository: '',
        url,
        actions: [],
        attempts: outcome.attempts,
      };
      throw connectionError(failed, outcome.error, outcome.retryable);
    }
    await outcome.response.body.dump();
    if (outcome.response.status !== 401) {
      return undefined;
    }
    return (
      pickChallenge(parseChallenges(outcome.response.headers['www-authenticate'])) ?? { scheme: 'basic', params: {} }
    );
  }

  private async bearerToken(
    challenge: Challenge,
    credential: Credential | undefined,
    request: ScopeRequest,
  ): Promise<string> {
    const realm = this.checkRealm(challenge, request);
    const key = TokenCache.key(this.context.registry, request.scopes);
    return this.context.tokens.get(this.context.registry, request.scopes, async () => {
      const scopes = [...new Set([...request.scopes, ...(this.extraScopes.get(key) ?? [])])];
      const grant = await requestToken(this.context.send, {
        realm,
        service: challenge.params.service,
        scopes,
        credential,
        clientId: this.context.userAgent,
        registry: this.context.registry,
        repository: request.repository,
        signal: request.signal,
      });
      if (grant.refreshToken && credential?.identityToken) {
        // The server rotated the refresh token; later exchanges must use the new one.
        this.credential = Promise.resolve({ ...credential, identityToken: grant.refreshToken });
      }
      return grant;
    });
  }

  /**
   * Parses the realm and rejects one that would send credentials in clear text to a registry reached over HTTPS,
   * or that is not an HTTP URL at all.
   */
  private checkRealm(challenge: Challenge, request: ScopeRequest): URL {
    let realm: URL | undefined;
    try {
      realm = new URL(challenge.params.realm ?? '');
    } catch {
      realm = undefined;
    }
    const secureRegistry = this.context.origin.startsWith('https:');
    const allowed = realm && (realm.protocol === 'https:' || (realm.protocol === 'http:' && !secureRegistry));
    if (realm && allowed) {
      return realm;
    }
    throw new AuthenticationError({
      method: 'GET',
      url: redactUrl(new URL('/v2/', this.context.origin)),
      registry: this.context.registry,
      repository: request.repository,
      subject: `/v2/ on ${this.context.registry}`,
      status: 401,
      retryable: false,
      hint: realm
        ? `its Bearer challenge names the plain-HTTP token realm ${realm.origin}; a registry reached over HTTPS must use an https realm`
        : `its Bearer challenge has no valid realm URL (${JSON.stringify(challenge.params.realm ?? '')})`,
    });
  }
}

/** Prefers Bearer, which scopes access per repository, over Basic when a registry offers both. */
function pickChallenge(challenges: Challenge[]): Challenge | undefined {
  return (
    challenges.find((challenge) => challenge.scheme === 'bearer') ??
    challenges.find((challenge) => challenge.scheme === 'basic')
  );
}

function basicAuthorization(credential: Credential | undefined): string | undefined {
  if (credential?.username === undefined || !credential.password) {
    return undefined;
  }
  return `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString('base64')}`;
}
