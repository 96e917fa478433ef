/**
 * Thrown when the credential configuration cannot be used: a docker config that is not valid JSON or has a
 * malformed entry, or a credential helper it names that is missing or fails. Retrying does not help until
 * the configuration is fixed.
 */
export class CredentialConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CredentialConfigError';
  }
}

/**
 * Credentials for one registry, as `docker login` stores them. A registry token is sent to the registry as it is.
 * An identity token is an OAuth2 refresh token, exchanged at the token server for access tokens. A username and
 * password serve Basic auth and token requests.
 */
export interface Credential {
  username?: string;
  password?: string;
  identityToken?: string;
  registryToken?: string;
}

/** Finds the credentials for a registry host (`127.0.0.1:5000`, `index.docker.io`); undefined means anonymous. */
export interface CredentialSource {
  lookup(registry: string): Promise<Credential | undefined>;
}

const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** Lower-cases a registry host and maps Docker Hub's aliases to `index.docker.io`, the name references use. */
export function canonicalRegistry(registry: string): string {
  const lower = registry.toLowerCase();
  return DOCKER_HUB_ALIASES.has(lower) ? 'index.docker.io' : lower;
}

/** Credentials given in code, keyed by registry host (`127.0.0.1:5000`, `docker.io`). */
export function staticCredentials(byRegistry: Record<string, Credential>): CredentialSource {
  const entries = new Map(
    Object.entries(byRegistry).map(([registry, credential]) => [canonicalRegistry(registry), credential]),
  );
  return {
    lookup: (registry) => Promise.resolve(entries.get(canonicalRegistry(registry))),
  };
}

/** Asks each source in turn; the first that has credentials for the registry wins. */
export function chainCredentials(...sources: CredentialSource[]): CredentialSource {
  return {
    async lookup(registry) {
      for (const source of sources) {
        const credential = await source.lookup(registry);
        if (credential) {
          return credential;
        }
      }
      return undefined;
    },
  };
}

/** A source with no credentials at all: every request is anonymous. */
export const anonymous: CredentialSource = staticCredentials({});
