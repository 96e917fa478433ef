/** A token from a token server, with its lifetime as the server stated it. */
export interface TokenGrant {
  token: string;
  expiresInMs: number;
  /** A new OAuth2 refresh token, when the server rotates it. */
  refreshToken?: string;
}

interface Entry {
  registry: string;
  /** Actions the token was requested for, by resource (`repository:team/app`). */
  access: Map<string, Set<string>>;
  grant: Promise<TokenGrant>;
  /** Epoch milliseconds after which the token is not used again; Infinity until the grant arrives. */
  expiresAt: number;
}

/**
 * Bearer tokens by registry and scope set, each reused until shortly before it expires. Concurrent requests for one
 * scope set share a token request. A request may also use a token that was requested for more scopes.
 */
export class TokenCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Returns the cache key of a registry and a set of scope strings; the order of the scopes does not matter. */
  static key(registry: string, scopes: readonly string[]): string {
    return `${registry} ${[...new Set(scopes)].sort().join(' ')}`;
  }

  /**
   * Returns a valid cached token for `scopes` on `registry`, or else the token that `fetch` obtains, and caches it.
   * When only a broader token request is in flight and it fails, `fetch` runs for these scopes.
   */
  async get(registry: string, scopes: readonly string[], fetch: () => Promise<TokenGrant>): Promise<string> {
    const key = TokenCache.key(registry, scopes);
    const exact = this.entries.get(key);
    if (exact && this.now() < exact.expiresAt) {
      return (await exact.grant).token;
    }
    const broader = this.broaderEntry(registry, scopes);
    if (broader) {
      const grant = await broader.grant.catch(() => undefined);
      if (grant) {
        return grant.token;
      }
    }

    const requestedAt = this.now();
    const entry: Entry = { registry, access: accessOf(scopes), grant: fetch(), expiresAt: Infinity };
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

  /** Forgets `token` wherever it is cached, so the next `get` that would have used it requests a new one. */
  async invalidate(token: string): Promise<void> {
    for (const [key, entry] of [...this.entries]) {
      const current = await entry.grant.catch(() => undefined);
      if (current?.token === token && this.entries.get(key) === entry) {
        this.entries.delete(key);
      }
    }
  }

  private broaderEntry(registry: string, scopes: readonly string[]): Entry | undefined {
    const requested = accessOf(scopes);
    for (const entry of this.entries.values()) {
      if (entry.registry === registry && this.now() < entry.expiresAt && covers(entry.access, requested)) {
        return entry;
      }
    }
    return undefined;
  }
}

/** Parses `repository:team/app:pull,push` scope strings into actions by resource. */
function accessOf(scopes: readonly string[]): Map<string, Set<string>> {
  const access = new Map<string, Set<string>>();
  for (const scope of scopes) {
    const split = scope.lastIndexOf(':');
    const resource = split > 0 ? scope.slice(0, split) : scope;
    const actions = access.get(resource) ?? new Set<string>();
    for (const action of split > 0 ? scope.slice(split + 1).split(',') : []) {
      actions.add(action);
    }
    access.set(resource, actions);
  }
  return access;
}

function covers(granted: Map<string, Set<string>>, requested: Map<string, Set<string>>): boolean {
  for (const [resource, actions] of requested) {
    const available = granted.get(resource);
    if (!available || [...actions].some((action) => !available.has(action) && !available.has('*'))) {
      return false;
    }
  }
  return true;
}
