/**
 * Reads tags straight from the registries with plain fetch, apart from the product's registry client, so the demo's
 * verdict rests on what the registries hold and not on the workflow's own account.
 */
const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** Returns the digest `host/repository:tag` points at, or undefined when the tag does not exist. */
export async function readTagDigest(reference: string): Promise<string | undefined> {
  const match = /^([^/]+)\/(.+):([\w][\w.-]*)$/.exec(reference);
  if (!match) {
    throw new Error(`expected host:port/repository:tag, got ${reference}`);
  }
  const [, host, repository, tag] = match;
  const response = await fetch(`http://${host}/v2/${repository}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { accept: MANIFEST_TYPES },
  });
  if (response.status === 404) {
    return undefined;
  }
  if (response.status !== 200) {
    throw new Error(`HEAD ${reference}: expected HTTP 200 or 404, got ${response.status}`);
  }
  const digest = response.headers.get('docker-content-digest');
  if (digest === null) {
    throw new Error(`HEAD ${reference}: the registry sent no Docker-Content-Digest header`);
  }
  return digest;
}

/** One expectation about a tag, and what the registry holds. */
export interface TagCheck {
  reference: string;
  expected: string;
  actual: string | undefined;
  ok: boolean;
}

/** Reads each tag and compares it with the digest expected there. */
export async function checkTags(expectations: { reference: string; expected: string }[]): Promise<TagCheck[]> {
  const checks: TagCheck[] = [];
  for (const { reference, expected } of expectations) {
    const actual = await readTagDigest(reference);
    checks.push({ reference, expected, actual, ok: actual === expected });
  }
  return checks;
}

/** Returns a line about the failed checks, or undefined when all passed. */
export function describeFailures(checks: TagCheck[]): string | undefined {
  const failed = checks.filter((check) => !check.ok);
  if (failed.length === 0) {
    return undefined;
  }
  return failed
    .map((check) => `${check.reference} holds ${check.actual ?? 'nothing'}, expected ${check.expected}`)
    .join('; ');
}
