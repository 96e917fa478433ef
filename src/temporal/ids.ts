/**
 * Workflow IDs. A release's ID is derived from pipeline and digest, so starting the same digest twice reaches the same
 * workflow: Temporal's ID conflict and reuse policies then decide between attaching and refusing. Workflows import
 * this file, so it stays free of I/O and Node modules.
 */

const RELEASE_PREFIX = 'release-';
const DIGEST_PATTERN = /^([a-z0-9]+):([0-9a-f]+)$/;

/**
 * Returns `release-<pipeline>-<hex>` for a sha256 digest and `release-<pipeline>-<algorithm>-<hex>` for another
 * algorithm, so that two algorithms never share an ID.
 */
export function releaseWorkflowId(pipeline: string, digest: string): string {
  const match = DIGEST_PATTERN.exec(digest);
  if (!match) {
    throw new Error(`invalid digest "${digest}" for a release ID; expected sha256:<64 lowercase hex>`);
  }
  const [, algorithm, hex] = match;
  return algorithm === 'sha256'
    ? `${RELEASE_PREFIX}${pipeline}-${hex}`
    : `${RELEASE_PREFIX}${pipeline}-${algorithm}-${hex}`;
}

/** Splits a release ID into pipeline and digest; undefined when the text is not a release ID. */
export function parseReleaseWorkflowId(id: string): { pipeline: string; digest: string } | undefined {
  const match = /^release-(.+?)(?:-(sha512))?-([0-9a-f]{64}|[0-9a-f]{128})$/.exec(id);
  if (!match) {
    return undefined;
  }
  const [, pipeline, algorithm, hex] = match;
  const expectedLength = algorithm === 'sha512' ? 128 : 64;
  if (hex.length !== expectedLength) {
    return undefined;
  }
  return { pipeline, digest: `${algorithm ?? 'sha256'}:${hex}` };
}

/** Returns `stage-<pipeline>-<stage>`, the ID of the long-lived workflow that keeps a stage's lock and ledger. */
export function stageWorkflowId(pipeline: string, stage: string): string {
  return `stage-${pipeline}-${stage}`;
}

/** Returns `rollback-<pipeline>-<stage>-<unique>`; the caller supplies `unique` (a time stamp or random suffix). */
export function rollbackWorkflowId(pipeline: string, stage: string, unique: string): string {
  if (!/^[\w.-]+$/.test(unique)) {
    throw new Error(`invalid rollback ID suffix "${unique}"; expected letters, digits, "_", "." or "-"`);
  }
  return `rollback-${pipeline}-${stage}-${unique}`;
}
