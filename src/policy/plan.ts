// Pure, like evaluate.ts: the release workflow and the CLI's dry run share it.
import type { Pipeline } from '../config/schema';
import { evaluateTrigger, evaluateWhen, type ImageFacts, type RuleEvaluation, type TagFacts } from './evaluate';

/** Whether a release would enter one target stage. */
export interface StagePlan {
  name: string;
  /** Position in `pipeline.stages`; target stages start at 1. */
  index: number;
  /** `entered`: its when holds (or it has none); `stopped`: its when fails; `not-reached`: an earlier stage stopped it. */
  outcome: 'entered' | 'stopped' | 'not-reached';
  /** The stage's when evaluated; absent for stages not reached. */
  when?: RuleEvaluation;
}

/** What would happen to an image pushed to a pipeline's source repository. */
export interface ReleasePlan {
  /** Whether a push of this image starts a release by itself, and why. */
  trigger: RuleEvaluation;
  /** Target stages in order. */
  stages: StagePlan[];
  /** Names of the stages a release would enter, in order. */
  enters: string[];
  /** The stage whose when would stop a release, with the rule and its reasons. */
  stoppedBy?: { stage: string; rule: string; reasons: string[] };
}

/** Evaluates the triggers and every target stage's when, in pipeline order, for one image. */
export function planRelease(pipeline: Pipeline, facts: ImageFacts | TagFacts): ReleasePlan {
  const trigger = evaluateTrigger(pipeline.triggers, facts);
  const stages: StagePlan[] = [];
  let stoppedBy: ReleasePlan['stoppedBy'];

  pipeline.stages.forEach((stage, index) => {
    if (index === 0) {
      return;
    }
    if (stoppedBy) {
      stages.push({ name: stage.name, index, outcome: 'not-reached' });
      return;
    }
    const when = evaluateWhen(stage.when, facts, index);
    if (!when.matched) {
      stoppedBy = { stage: stage.name, rule: when.rule ?? `stages[${index}].when`, reasons: when.reasons };
    }
    stages.push({ name: stage.name, index, outcome: when.matched ? 'entered' : 'stopped', when });
  });

  return {
    trigger,
    stages,
    enters: stages.filter((stage) => stage.outcome === 'entered').map((stage) => stage.name),
    stoppedBy,
  };
}
