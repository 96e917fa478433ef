/** A digest of a pipeline definition, to tell whether two releases of a pipeline follow the same definition. */
import { createHash } from 'node:crypto';
import type { Pipeline } from '../config/schema';

/** Memo field of a release workflow that stores the digest of the pipeline definition it started with. */
export const PIPELINE_DIGEST_MEMO = 'pipelineDigest';

/**
 * Returns `sha256:<hex>` of the parsed pipeline as canonical JSON: object keys sorted at every level, array order
 * kept. Defaults are applied by the schema before this runs, so two files that differ only in formatting, key order,
 * comments or a value written out at its default have the same digest.
 */
export function pipelineDefinitionDigest(pipeline: Pipeline): string {
  return `sha256:${createHash('sha256').update(canonicalJson(pipeline)).digest('hex')}`;
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, nested: unknown) => {
    if (nested === null || typeof nested !== 'object' || Array.isArray(nested)) {
      return nested;
    }
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(nested).sort()) {
      sorted[key] = (nested as Record<string, unknown>)[key];
    }
    return sorted;
  });
}
