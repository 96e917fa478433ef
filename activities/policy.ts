import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { parseDigest } from '../src/oci/digest';
import { Reference } from '../src/oci/reference';
import type { ImageFacts } from '../src/policy/evaluate';
import { gatherImageFacts } from '../src/policy/facts';
import type { ReleaseStarter } from '../src/serve/push';
import { startRelease } from '../src/temporal/releases';
import type { RegistryClient } from '../src/oci/client';
import { createEventActivities } from './events';
import { createWatchActivities } from './watch';

/** Input of `readImageFacts`. */
export interface ReadImageFactsInput {
  /** Image reference pinned to its digest, e.g. the release's source. */
  reference: string;
  /** Tag the release started from, which `when` rules on tags test. */
  tag?: string;
}

/** What the policy activities need from the worker. */
export interface PolicyActivityDependencies {
  registry: RegistryClient;
  /** Client of the worker's namespace; the watcher starts releases with it. */
  client: Client;
  /** Task queue releases started by the watcher run on; the watcher's own task queue when absent. */
  taskQueue?: string;
}

/** Returns the task queue of the activity running now, or undefined outside an activity. */
function currentActivityTaskQueue(): string | undefined {
  try {
    return Context.current().info.taskQueue;
  } catch {
    return undefined;
  }
}

/**
 * Returns a starter that starts releases with `startRelease`, as `promote start` does. The task queue is
 * `taskQueue`, else, inside an activity, the queue of the worker running it, else the product's default.
 */
export function releaseStarter(client: Client, registry: RegistryClient, taskQueue?: string): ReleaseStarter {
  return async (input) => {
    const queue = taskQueue ?? currentActivityTaskQueue();
    const started = await startRelease(
      client,
      // A notification can arrive before its tag is readable; the push it reports did write the tag.
      {
        pipeline: input.pipeline,
        source: input.source,
        startedBy: input.startedBy,
        taskQueue: queue,
        allowMissingTag: true,
      },
      registry,
    );
    return { workflowId: started.workflowId, existing: started.existing };
  };
}

/** Builds the activities behind triggers, `when` rules and release events. */
export function createPolicyActivities(dependencies: PolicyActivityDependencies) {
  const { registry, client } = dependencies;
  return {
    /** Reads the facts `when` rules test from the image's manifests and configs. Idempotent: it only reads. */
    async readImageFacts(input: ReadImageFactsInput): Promise<ImageFacts> {
      const reference = Reference.parse(input.reference);
      if (reference.digest === undefined) {
        throw new TypeError(`readImageFacts needs a reference pinned to a digest, got ${input.reference}`);
      }
      parseDigest(reference.digest);
      return gatherImageFacts(registry, reference, { tag: input.tag });
    },
    ...createWatchActivities({ registry, startRelease: releaseStarter(client, registry, dependencies.taskQueue) }),
    ...createEventActivities(),
  };
}

export type PolicyActivities = ReturnType<typeof createPolicyActivities>;
