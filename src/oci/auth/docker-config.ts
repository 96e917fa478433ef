import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { runCredentialHelper } from './credential-helper';
import { canonicalRegistry, type Credential, CredentialConfigError, type CredentialSource } from './credentials';

/** The key docker uses for Docker Hub in `auths` and `credHelpers`, and the server URL it gives helpers. */
export const DOCKER_HUB_CONFIG_KEY = 'https://index.docker.io/v1/';

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
}

interface DockerConfigFile {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** Returns `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
}

/** Reduces a config key (`https://host:5000/v1/`, `host:5000`) to the registry host, as docker does. */
function keyToRegistry(key: string): string {
  const host = key.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split('/')[0];
  return canonicalRegistry(host);
}

/** Returns the entry whose key names the registry; an exact host key wins over a URL key. */
function findEntry<T>(entries: Record<string, T> | undefined, registry: string): T | undefined {
  if (!entries) {
    return undefined;
  }
  if (entries[registry] !== undefined) {
    return entries[registry];
  }
  const key = Object.keys(entries).find((candidate) => keyToRegistry(candidate) === registry);
  return key === undefined ? undefined : entries[key];
}

function entryToCredential(entry: AuthEntry, path: string, registry: string): Credential | undefined {
  const credential: Credential = {};
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) {
      throw new CredentialConfigError(
        `${path}: auths entry for ${registry} has an "auth" value that is not base64 of "username:password"`,
      );
    }
    credential.username = decoded.slice(0, colon);
    credential.password = decoded.slice(colon + 1);
  }
  if (entry.username) {
    credential.username = entry.username;
  }
  if (entry.password) {
    credential.password = entry.password;
  }
  if (entry.identitytoken) {
    credential.identityToken = entry.identitytoken;
  }
  if (entry.registrytoken) {
    credential.registryToken = entry.registrytoken;
  }
  const empty = !credential.password && !credential.identityToken && !credential.registryToken;
  return empty ? undefined : credential;
}

/**
 * Credentials from docker's config file, looked up the way `docker login` stores them: a `credHelpers` entry for the
 * registry, else the `credsStore` helper, else the `auths` entry. A helper that stores nothing for the registry
 * falls through to `auths`. The file is read once, and each registry is looked up once unless the lookup fails.
 */
export class DockerConfigCredentials implements CredentialSource {
  private config?: Promise<DockerConfigFile>;
  private readonly lookups = new Map<string, Promise<Credential | undefined>>();

  constructor(readonly path: string = dockerConfigPath()) {}

  lookup(registry: string): Promise<Credential | undefined> {
    const canonical = canonicalRegistry(registry);
    let result = this.lookups.get(canonical);
    if (!result) {
      const lookup = this.find(canonical);
      this.lookups.set(canonical, lookup);
      lookup.catch(() => this.lookups.delete(canonical));
      result = lookup;
    }
    return result;
  }

  /** Reads the config file and throws CredentialConfigError when it is not valid, so a worker can fail at start. */
  async check(): Promise<void> {
    await this.read();
  }

  private async find(registry: string): Promise<Credential | undefined> {
    const config = await this.read();
    const serverUrl = registry === 'index.docker.io' ? DOCKER_HUB_CONFIG_KEY : registry;
    const helper = findEntry(config.credHelpers, registry) ?? config.credsStore;
    if (helper) {
      const fromHelper = await runCredentialHelper(helper, serverUrl);
      if (fromHelper) {
        return fromHelper;
      }
    }
    const entry = findEntry(config.auths, registry);
    return entry ? entryToCredential(entry, this.path, registry) : undefined;
  }

  private read(): Promise<DockerConfigFile> {
    this.config ??= readConfig(this.path);
    return this.config;
  }
}

async function readConfig(path: string): Promise<DockerConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return {};
    }
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // The parser's message quotes the text around the error, which may be a secret.
    throw new CredentialConfigError(`${path} is not valid JSON; fix or remove it`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CredentialConfigError(`${path} must contain a JSON object with "auths", "credHelpers" or "credsStore"`);
  }
  return parsed;
}
