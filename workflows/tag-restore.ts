/** Putting a tag back where it was, the undo step of every tag move, and turning failures into reasons. */
import { ActivityFailure, ApplicationFailure, log } from '@temporalio/workflow';
import { compensationActivities, registryActivities } from './activity-options';

/** A tag and the digest it pointed at before a move; null when the tag did not exist. */
export interface TagRestore {
  repository: string;
  tag: string;
  digest: string | null;
  /** Digest the move pointed the tag at. */
  movedTo: string;
  /**
   * Whether the move was confirmed. An unconfirmed move (it failed or was cancelled) may still have reached the
   * registry, so the tag is read first and put back only when it points at `movedTo`.
   */
  moved: boolean;
}

/**
 * Moves the tag back to its earlier digest, or deletes it when it did not exist before: a deployment that follows
 * the tag must not keep pulling a build whose promotion failed. Both activities read the tag back to verify.
 * Returns a description of the problem when the tag could not be put back, undefined on success.
 */
export async function restoreTag(restore: TagRestore): Promise<string | undefined> {
  const { repository, tag, digest } = restore;
  try {
    if (!restore.moved && !(await mayHaveMoved(restore))) {
      return undefined;
    }
    const state = digest
      ? await compensationActivities.moveTag({ repository, tag, digest })
      : await compensationActivities.deleteTag({ repository, tag });
    if (state.digest !== digest) {
      return `${repository}:${tag} is on ${state.digest ?? 'nothing'} after the rollback, expected ${digest ?? 'no tag'}`;
    }
    return undefined;
  } catch (error) {
    const reason = describeFailure(error);
    log.error('Could not move a tag back', { repository, tag, digest, error: reason });
    return `${repository}:${tag} could not be moved back to ${digest ?? 'no tag'}: ${reason}`;
  }
}

/**
 * Checks whether a move whose outcome is unknown left the tag on the new digest. A failed read counts as a
 * possible move, so the restore is attempted rather than skipped.
 */
async function mayHaveMoved(restore: TagRestore): Promise<boolean> {
  try {
    const state = await registryActivities.readTag({ repository: restore.repository, tag: restore.tag });
    return state.digest === restore.movedTo;
  } catch (error) {
    log.warn('Could not read a tag whose move failed; moving it back anyway', {
      repository: restore.repository,
      tag: restore.tag,
      error: describeFailure(error),
    });
    return true;
  }
}

/** Returns the innermost message of an activity failure, which names the registry, repository and status. */
export function describeFailure(error: unknown): string {
  let current: unknown = error;
  while (current instanceof ActivityFailure && current.cause) {
    current = current.cause;
  }
  if (current instanceof ApplicationFailure || current instanceof Error) {
    return current.message;
  }
  return String(current);
}
