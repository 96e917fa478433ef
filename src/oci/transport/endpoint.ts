import { isIP } from 'node:net';

/** Docker Hub's API host; references name it `docker.io` or `index.docker.io`. */
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

/** Splits `host:port`, `[::1]:5000` or `host` into the bare host name and the port text, if any. */
export function splitHostPort(registry: string): { host: string; port?: string } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(registry);
  if (bracketed) {
    return { host: bracketed[1], port: bracketed[2] };
  }
  const colon = registry.lastIndexOf(':');
  if (colon > 0 && registry.indexOf(':') === colon) {
    return { host: registry.slice(0, colon), port: registry.slice(colon + 1) };
  }
  return { host: registry };
}

/** True for `localhost`, 127.0.0.0/8 and ::1, which are reached over plain HTTP. */
export function isLoopback(registry: string): boolean {
  const { host } = splitHostPort(registry);
  const lower = host.toLowerCase();
  if (lower === 'localhost' || lower.endsWith('.localhost')) {
    return true;
  }
  if (isIP(lower) === 4) {
    return lower.startsWith('127.');
  }
  return lower === '::1' || lower === '0:0:0:0:0:0:0:1';
}

/**
 * Returns the origin (`scheme://host[:port]`) that serves a registry's `/v2/` API: plain HTTP for loopback hosts
 * and registries listed as insecure, HTTPS otherwise.
 */
export function registryOrigin(registry: string, insecureRegistries: readonly string[]): string {
  const lower = registry.toLowerCase();
  if (lower === 'docker.io' || lower === 'index.docker.io') {
    return `https://${DOCKER_HUB_API_HOST}`;
  }
  const plain = isLoopback(registry) || insecureRegistries.some((entry) => entry.toLowerCase() === lower);
  return `${plain ? 'http' : 'https'}://${registry}`;
}

/** Builds the request URL from a registry-relative path or an absolute URL (a Location header), plus query parameters. */
export function requestUrl(origin: string, path: string, query?: Record<string, string>): URL {
  const url = new URL(path, origin + '/');
  for (const [name, value] of Object.entries(query ?? {})) {
    url.searchParams.set(name, value);
  }
  return url;
}
