/**
 * A stage's `when` inside the release workflow. The rules are evaluated here, in workflow code, because
 * evaluation is pure; only reading the image's manifests and configs is an activity, and only when a rule
 * has image conditions.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { PolicyActivities } from '../activities/policy';
import type { Pipeline, Stage } from '../src/config/schema';
import { evaluateWhen, type ImageFacts, needsImageFacts, type TagFacts } from '../src/policy/evaluate';
import { NON_RETRYABLE_ERROR_TYPES } from './activity-options';
import { pinnedDigest, sourceTag } from './release-status';

const { readImageFacts } = proxyActivities<PolicyActivities>({
  startToCloseTimeout: '2 minutes',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 8,
    nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
  },
});

/** Returns the facts the pipeline's `when` rules test, or undefined when no stage has one. */
export async function readReleaseFacts(
  pipeline: Pipeline,
  source: string,
  digest: string,
): Promise<ImageFacts | TagFacts | undefined> {
  const rules = pipeline.stages.map((stage) => stage.when);
  if (rules.every((rule) => rule === undefined)) {
    return undefined;
  }
  const tag = sourceTag(source);
  if (!needsImageFacts(rules)) {
    return { tag, digest };
  }
  const reference = pinnedDigest(source) === undefined ? `${source}@${digest}` : source;
  return readImageFacts({ reference, tag });
}

/** Returns why the release must not enter the stage (the rule's path and what failed), or undefined when it may. */
export function whenStops(stage: Stage, index: number, facts: ImageFacts | TagFacts | undefined): string | undefined {
  if (!stage.when || !facts) {
    return undefined;
  }
  const result = evaluateWhen(stage.when, facts, index);
  if (result.matched) {
    return undefined;
  }
  const name = stage.when.name ? ` (${stage.when.name})` : '';
  return `not entered: ${result.rule}${name} does not hold: ${result.reasons.join('; ')}`;
}
