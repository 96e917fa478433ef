/** Pipelines, hook scripts and registry reads for the workflow tests. */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Pipeline, pipelineSchema } from '../../src/config/schema';

/** One stage as a test writes it; the repository is `<registry>/<pipeline>/<stage>` and the tag is the stage name. */
export interface TestStage {
  name: string;
  approval?: { approvers: string[]; required?: number; allowSelfApproval?: boolean; timeout?: string };
  hooks?: { name: string; command?: string[]; http?: { url: string }; timeout?: string }[];
  tags?: string[];
  soak?: string;
  referrers?: boolean;
  /** Registry host for this stage; the pipeline's default when absent. */
  registry?: string;
}

/** Builds and validates a pipeline, so defaults apply exactly as for a pipeline file. */
export function buildPipeline(name: string, registry: string, stages: TestStage[]): Pipeline {
  return pipelineSchema.parse({
    name,
    stages: stages.map((stage) => ({
      name: stage.name,
      repository: `${stage.registry ?? registry}/${name}/${stage.name}`,
      environmentTag: stage.name,
      ...(stage.approval ? { approval: { timeout: '60s', ...stage.approval } } : {}),
      ...(stage.hooks ? { hooks: stage.hooks } : {}),
      ...(stage.tags ? { tags: stage.tags } : {}),
      ...(stage.soak ? { soak: stage.soak } : {}),
      ...(stage.referrers ? { referrers: stage.referrers } : {}),
    })),
  });
}

/** Writes an executable `/bin/sh` script and returns its path. */
export function writeScript(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/**
 * Reads a tag's digest with a plain HEAD, apart from the registry client under test; undefined when the tag does
 * not exist.
 */
export async function tagDigest(
  registryUrl: string,
  repository: string,
  tag: string,
  basicAuth?: { username: string; password: string },
): Promise<string | undefined> {
  const headers: Record<string, string> = { accept: MANIFEST_TYPES };
  if (basicAuth) {
    headers.authorization = `Basic ${Buffer.from(`${basicAuth.username}:${basicAuth.password}`).toString('base64')}`;
  }
  const response = await fetch(`${registryUrl}/v2/${repository}/manifests/${tag}`, { method: 'HEAD', headers });
  if (response.status === 404) {
    return undefined;
  }
  if (response.status !== 200) {
    throw new Error(`HEAD ${repository}:${tag} returned ${response.status}, expected 200 or 404`);
  }
  return response.headers.get('docker-content-digest') ?? undefined;
}
