/** Reads what a registry holds with plain HTTP requests, apart from every tool the benchmark measures. */

const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** Returns the digest `HOST/REPO:TAG` points at, or undefined when the tag does not exist. */
export async function tagDigest(reference: string): Promise<string | undefined> {
  const slash = reference.indexOf('/');
  const colon = reference.lastIndexOf(':');
  const url = `http://${reference.slice(0, slash)}/v2/${reference.slice(slash + 1, colon)}/manifests/${reference.slice(colon + 1)}`;
  const response = await fetch(url, { method: 'HEAD', headers: { accept: MANIFEST_TYPES } });
  if (response.status === 404) {
    return undefined;
  }
  if (response.status !== 200) {
    throw new Error(`HEAD ${url} returned ${response.status}, expected 200 or 404`);
  }
  return response.headers.get('docker-content-digest') ?? undefined;
}

/** Throws unless `HOST/REPO:TAG` points at `digest`. */
export async function expectTag(reference: string, digest: string, copiedBy: string): Promise<void> {
  const found = await tagDigest(reference);
  if (found !== digest) {
    throw new Error(`after ${copiedBy}, ${reference} points at ${found ?? 'nothing'}, expected ${digest}`);
  }
}
