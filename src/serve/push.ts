import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Pipeline } from '../config/schema';
import { parseDigest } from '../oci/digest';
import { Reference } from '../oci/reference';
import { evaluateTrigger, needsImageFacts, type RuleEvaluation } from '../policy/evaluate';
import { gatherImageFacts, type ImageSource } from '../policy/facts';
import { ReleaseAlreadyEndedError, SourceTagMismatchError } from '../temporal/releases';
import type { ReleaseInput } from '../../workflows/messages';

/** A manifest pushed to a repository, noticed through a registry notification or by polling its tags. */
export interface NoticedPush {
  /** Repository path without the registry host, as registries name it in notifications (`team/web`). */
  repository: string;
  digest: string;
  /** Tag the manifest was pushed under; absent for a push by digest. */
  tag?: string;
  /** How the push was noticed, recorded in `startedBy`. */
  via: 'notification' | 'poll';
}

/** Starts a release idempotently, like `startRelease`: a second start of the same pipeline and digest attaches. */
export type ReleaseStarter = (input: ReleaseInput) => Promise<{ workflowId: string; existing: boolean }>;

/** What handling a push needs. */
export interface PushContext {
  /** Reads image facts when a trigger has image conditions. */
  registry: ImageSource;
  startRelease: ReleaseStarter;
}

/** The decision taken for one push and one pipeline. */
export interface PushDecision {
  pipeline: string;
  digest: string;
  tag?: string;
  trigger: RuleEvaluation;
  /** Whether a release runs for the digest now: started by this push, or already running. */
  started: boolean;
  workflowId?: string;
  /** Whether the release existed before this push (running, or completed and not released again). */
  existing?: boolean;
  /** Why nothing was started although a trigger matched. */
  note?: string;
}

/** Returns the repository path of a pipeline's first stage, where CI pushes. */
export function sourceRepository(pipeline: Pipeline): Reference {
  return Reference.parse(pipeline.stages[0].repository);
}

/** Returns whether a push to `repository` (a path without host) concerns the pipeline's source. */
export function isSourcePush(pipeline: Pipeline, repository: string): boolean {
  return sourceRepository(pipeline).repository === repository;
}

/**
 * Evaluates a pipeline's triggers for a push and starts a release when one holds. Idempotent: the
 * release ID comes from pipeline and digest, so repeated notifications, several tags on one digest,
 * and a push seen by both notification and polling all reach one release. Throws when the registry
 * or Temporal cannot be reached, so that the caller can retry.
 */
export async function handlePush(context: PushContext, pipeline: Pipeline, push: NoticedPush): Promise<PushDecision> {
  const digest = parseDigest(push.digest);
  const repository = sourceRepository(pipeline);
  let source = push.tag === undefined ? repository : repository.withTag(push.tag);
  source = source.withDigest(digest);

  const facts = needsImageFacts(pipeline.triggers ?? [])
    ? await gatherImageFacts(context.registry, source, { tag: push.tag })
    : { tag: push.tag, digest };
  const trigger = evaluateTrigger(pipeline.triggers, facts);
  const decision: PushDecision = { pipeline: pipeline.name, digest, tag: push.tag, trigger, started: false };
  if (!trigger.matched) {
    return decision;
  }

  try {
    const { workflowId, existing } = await context.startRelease({
      pipeline,
      source: source.toString(),
      startedBy: `policy ${trigger.rule ?? 'trigger'} (${push.via})`,
    });
    return { ...decision, started: true, workflowId, existing };
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError || error instanceof ReleaseAlreadyEndedError) {
      // A closed release of this digest: releasing it again takes `promote release --force`, never a push.
      return {
        ...decision,
        existing: true,
        workflowId: error.workflowId,
        note: 'this digest was released before; a push does not release it again',
      };
    }
    if (error instanceof SourceTagMismatchError) {
      // A later push moved the tag on; that push starts its own release.
      return { ...decision, note: 'the tag points at another digest now, so this push starts no release' };
    }
    throw error;
  }
}
