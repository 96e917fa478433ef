import { heartbeat } from '@temporalio/activity';
import type { Pipeline } from '../src/config/schema';
import type { Digest } from '../src/oci/digest';
import type { Reference } from '../src/oci/reference';
import type { ImageSource } from '../src/policy/facts';
import { matchText } from '../src/policy/text-match';
import { handlePush, type ReleaseStarter, sourceRepository } from '../src/serve/push';

/** The registry reads a poll needs; `RegistryClient` provides them. */
export interface TagSource extends ImageSource {
  listTags(repository: Reference, signal?: AbortSignal): Promise<string[]>;
  getTagDigest(reference: Reference, signal?: AbortSignal): Promise<Digest | undefined>;
}

/** Input of one poll of a pipeline's source repository. */
export interface PollInput {
  pipeline: Pipeline;
  /** Tag → digest as seen by the previous poll; tags whose digest changed since count as pushes. */
  known: Record<string, string>;
  /** Whether changed tags start releases; false on a first poll that only records what exists. */
  startReleases: boolean;
}

/** A tag that is new or points at another digest than at the previous poll. */
export interface PolledChange {
  tag: string;
  digest: string;
  /** Whether a release runs for the digest now (started by this poll or already running). */
  started: boolean;
  /** Whether that release was already running (started by a notification or an earlier poll). */
  existing?: boolean;
  workflowId?: string;
  /** Rule that matched, or the reasons none did, or why a matched push started nothing. */
  reason: string;
}

/** Result of one poll. */
export interface PollResult {
  /** Tag → digest for every candidate tag handled; the next poll's `known`. */
  known: Record<string, string>;
  /** Tags listed in the repository. */
  tags: number;
  /** Tags some trigger's tag condition allows, which were resolved. */
  candidates: number;
  changes: PolledChange[];
  /** Tags that could not be resolved or handled; they are retried at the next poll. */
  errors: string[];
}

/** Returns whether some trigger could match the tag, judging by tag conditions alone. */
function isCandidate(pipeline: Pipeline, tag: string): boolean {
  return (pipeline.triggers ?? []).some(
    (rule) => rule.tag === undefined || matchText(rule.tag, tag, 'tag', 'no tag').passed,
  );
}

/**
 * Builds the polling activity. `startRelease` starts a release idempotently (pipeline + digest), so a
 * poll retried after a crash, or a push also seen through a notification, reaches the release that runs.
 */
export function createWatchActivities(deps: { registry: TagSource; startRelease: ReleaseStarter }) {
  return {
    /**
     * Lists the source repository's tags, resolves those a trigger could match, and handles each tag
     * that is new or moved since `known` like a pushed notification. Idempotent: it changes nothing but
     * through idempotent release starts, and a tag that failed stays out of `known` to be retried.
     */
    async pollSourceTags(input: PollInput): Promise<PollResult> {
      const { pipeline } = input;
      const repository = sourceRepository(pipeline);
      const tags = await deps.registry.listTags(repository);
      const candidates = tags.filter((tag) => isCandidate(pipeline, tag));
      const result: PollResult = {
        known: {},
        tags: tags.length,
        candidates: candidates.length,
        changes: [],
        errors: [],
      };

      for (const tag of candidates) {
        heartbeat({ tag });
        try {
          const digest = await deps.registry.getTagDigest(repository.withTag(tag));
          if (digest === undefined) {
            continue; // Deleted between listing and resolving.
          }
          if (input.known[tag] !== digest && input.startReleases) {
            result.changes.push(await handleChange(deps.startRelease, deps.registry, pipeline, tag, digest));
          }
          result.known[tag] = digest;
        } catch (error) {
          result.errors.push(`${tag}: ${(error as Error).message}`);
          if (input.known[tag] !== undefined) {
            // Keep the old digest, so that the move is noticed again at the next poll.
            result.known[tag] = input.known[tag];
          }
        }
      }
      return result;
    },
  };
}

async function handleChange(
  startRelease: ReleaseStarter,
  registry: ImageSource,
  pipeline: Pipeline,
  tag: string,
  digest: string,
): Promise<PolledChange> {
  const decision = await handlePush({ registry, startRelease }, pipeline, {
    repository: sourceRepository(pipeline).repository,
    digest,
    tag,
    via: 'poll',
  });
  const reason =
    decision.note ?? (decision.trigger.matched ? (decision.trigger.rule ?? '') : decision.trigger.reasons.join('; '));
  return {
    tag,
    digest,
    started: decision.started,
    existing: decision.existing,
    workflowId: decision.workflowId,
    reason,
  };
}

export type WatchActivities = ReturnType<typeof createWatchActivities>;
