/** A token from a token server, with its lifetime as the server stated it. */
export interface TokenGrant {
  token: string;
  expiresInMs: number;
  /** A new OAuth2 refresh token, when the server rotates it. */
  refreshToken?: string;
}

interface Entry {
  grant: Promise<TokenGrant>;
  /** Epoch milliseconds after which the token is not used again; Infinity until the grant arrives. */
  expiresAt: number;
}

/**
 * Bearer tokens keyed by registry and scope set. A token is reused until shortly before it expires, and concurrent
 * requests for the same key share one token request.
 */
export class TokenCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Returns the cache key of a registry and a set of scope strings; the order of the scopes does not matter. */
  static key(registry: string, scopes: readonly string[]): string {
    return `${registry} ${[...new Set(scopes)].sort().join(' ')}`;
  }

  /** Returns a valid cached token for `key`, or the token `fetch` obtains, which is then cached. */
  async get(key: string, fetch: () => Promise<TokenGrant>): Promise<string> {
    const cached = this.entries.get(key);
    if (cached && this.now() < cached.expiresAt) {
      return (await cached.grant).token;
    }

    const requestedAt = this.now();
    const entry: Entry = { grant: fetch(), expiresAt: Infinity };
    this.entries.set(key, entry);
    try {
      const grant = await entry.grant;
      // Stop using a token a little before the server's deadline, so it does not expire in flight.
      const margin = Math.min(5_000, grant.expiresInMs / 10);
      entry.expiresAt = requestedAt + grant.expiresInMs - margin;
      return grant.token;
    } catch (error) {
      if (this.entries.get(key) === entry) {
        this.entries.delete(key);
      }
      throw error;
    }
  }

  /** Forgets the token of `key` if it is still `token`, so the next `get` requests a new one. */
  async invalidate(key: string, token: string): Promise<void> {
    const entry = this.entries.get(key);
    const current = await entry?.grant.catch(() => undefined);
    if (entry && current?.token === token && this.entries.get(key) === entry) {
      this.entries.delete(key);
    }
  }
}
