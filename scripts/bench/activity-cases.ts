/**
 * The copy as the worker runs it: the `copyImage` activity called in this process, in an activity context from
 * `MockActivityEnvironment`, with one RegistryClient kept across runs as a worker keeps it. No process starts and
 * no Temporal server is involved, so the figures are the activity's own time.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { copyOverHttp } from './http-stream';
import type { SourceImage } from './images';
import { timeInProcess } from './measure';
import { expectTag } from './registry-check';
import { type ResultSet, rotated } from './results';
import { createRegistryActivities } from '../../activities/registry';
import type { CopySummary } from '../../activities/types';
import { RegistryClient } from '../../src/oci/client';
import type { LocalRegistry } from '../lib/registry';

type InProcessTool = 'promote' | 'http-stream';

export interface ActivityCase {
  name: 'activity-same' | 'activity-cross';
  description: string;
  source: LocalRegistry;
  target: LocalRegistry;
  tools: InProcessTool[];
}

export function activityCases(a: LocalRegistry, b: LocalRegistry): ActivityCase[] {
  return [
    {
      name: 'activity-same',
      description: 'copyImage of 5 x 40 MiB into a new repository of the same registry (mounts)',
      source: a,
      target: a,
      tools: ['promote'],
    },
    {
      name: 'activity-cross',
      description: 'copyImage of 5 x 40 MiB to another registry; http-stream is the same HTTP stream in-process',
      source: a,
      target: b,
      tools: ['promote', 'http-stream'],
    },
  ];
}

/**
 * Runs an activity case: one warm-up copy per tool that is not recorded (a running worker has its connections
 * open and its code compiled), then `runs` recorded copies per tool, in rotating order.
 */
export async function runActivityCase(
  activityCase: ActivityCase,
  sourceImage: SourceImage,
  runs: number,
  results: ResultSet,
): Promise<void> {
  const { image, repository: imageRepository } = sourceImage;
  const registry = new RegistryClient();
  const activities = createRegistryActivities(registry, undefined);
  const source = `${activityCase.source.host}/${imageRepository}@${image.digest}`;
  console.log(`${activityCase.name}: ${activityCase.description}; ${image.digest}`);

  const copyWith = async (tool: InProcessTool, repository: string): Promise<CopySummary | undefined> => {
    if (tool === 'http-stream') {
      await copyOverHttp(`${activityCase.source.host}/${imageRepository}@${image.digest}`, `${repository}:v1`);
      return undefined;
    }
    return new MockActivityEnvironment().run(activities.copyImage, { source, repository });
  };

  try {
    for (const tool of activityCase.tools) {
      await copyWith(tool, `${activityCase.target.host}/${activityCase.name}/warm-up-${tool}`);
    }
    for (let run = 0; run < runs; run += 1) {
      const figures: string[] = [];
      for (const tool of rotated(activityCase.tools, run)) {
        const repository = `${activityCase.target.host}/${activityCase.name}/run${run}-${tool}`;
        try {
          let summary: CopySummary | undefined;
          const ms = await timeInProcess(async () => (summary = await copyWith(tool, repository)));
          if (tool === 'http-stream') {
            await expectTag(`${repository}:v1`, image.digest, tool);
          } else if (summary?.digest !== image.digest) {
            throw new Error(`copyImage returned digest ${summary?.digest}, expected ${image.digest}`);
          }
          results.addRun(activityCase.name, tool, ms);
          figures.push(`${tool} ${ms.toFixed(1)} ms`);
          if (summary) {
            results.addDetail(activityCase.name, tool, 'bytes_uploaded', summary.bytesUploaded);
            results.addDetail(activityCase.name, tool, 'blobs_mounted', summary.blobsMounted);
          }
        } catch (error) {
          results.addFailure(activityCase.name, tool, error);
          figures.push(`${tool} failed`);
        }
      }
      console.log(`  run ${run + 1}/${runs}: ${figures.join(', ')}`);
    }
  } finally {
    await registry.close();
  }
}
