/**
 * Reads what the registries hold, straight from the registries (never through the fault proxies) and with plain
 * fetch, apart from the registry client under test.
 */

const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** Tags of a repository with the digest each points at; empty when the repository does not exist. */
export async function readTags(registryUrl: string, repository: string): Promise<Map<string, string>> {
  const tags = new Map<string, string>();
  for (const tag of await listTags(registryUrl, repository)) {
    const digest = await tagDigest(registryUrl, repository, tag);
    if (digest !== undefined) {
      tags.set(tag, digest);
    }
  }
  return tags;
}

async function listTags(registryUrl: string, repository: string): Promise<string[]> {
  const tags: string[] = [];
  let next: string | undefined = `${registryUrl}/v2/${repository}/tags/list?n=1000`;
  while (next !== undefined) {
    const response = await fetch(next);
    if (response.status === 404) {
      await response.arrayBuffer();
      return tags;
    }
    if (response.status !== 200) {
      throw new Error(`GET ${next} returned ${response.status}, expected 200 or 404`);
    }
    const body = (await response.json()) as { tags?: string[] | null };
    tags.push(...(body.tags ?? []));
    next = nextPage(registryUrl, response.headers.get('link'));
  }
  return tags;
}

/** Returns the URL of a `Link: <...>; rel="next"` header, which Distribution 3 sends while more tags follow. */
function nextPage(registryUrl: string, link: string | null): string | undefined {
  const match = link ? /<([^>]+)>;\s*rel="?next"?/.exec(link) : null;
  return match ? new URL(match[1], registryUrl).toString() : undefined;
}

/** Returns the digest a tag points at (HEAD on the manifest), or undefined when the tag does not exist. */
export async function tagDigest(registryUrl: string, repository: string, tag: string): Promise<string | undefined> {
  const response = await fetch(`${registryUrl}/v2/${repository}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { accept: MANIFEST_ACCEPT },
  });
  if (response.status === 404) {
    return undefined;
  }
  if (response.status !== 200) {
    throw new Error(`HEAD ${repository}:${tag} returned ${response.status}, expected 200 or 404`);
  }
  const digest = response.headers.get('docker-content-digest');
  if (digest === null) {
    throw new Error(`HEAD ${repository}:${tag} returned no Docker-Content-Digest header`);
  }
  return digest;
}
