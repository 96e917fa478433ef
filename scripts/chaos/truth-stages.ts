/**
 * The rules of the truth check that look at a stage, the source repository and the proxies' records rather than at
 * one release. truth.ts explains them. Each problem is blamed on the release it concerns, where there is one.
 */
import type { ReleaseFacts, StageFacts, TruthInput } from './truth';

/** Records a problem against a release, or against no release when `workflowId` is undefined. */
export type Blame = (workflowId: string | undefined, problem: string) => void;

/** Checks that the ledger is a chain in release start order, that it matches the registry, and that the lock is free. */
export function checkStage(
  facts: StageFacts,
  byDigest: Map<string, ReleaseFacts>,
  byTag: Map<string, ReleaseFacts>,
  byWorkflow: Map<string, ReleaseFacts>,
  blame: Blame,
): void {
  const { stage, ledger, tags } = facts;
  let environment: string | null = null;
  let newestStart = -Infinity;
  const promoted = new Set<string>();
  for (const [position, entry] of ledger.entries()) {
    if (entry.previousDigest !== environment) {
      blame(
        entry.workflowId,
        `${stage}: ledger entry ${position + 1} starts from ${entry.previousDigest ?? 'no tag'}, ` +
          `but the entry before left ${environment ?? 'no tag'}`,
      );
    }
    if (entry.kind === 'promoted') {
      const start = entry.releaseStartedAt ?? -Infinity;
      if (start <= newestStart) {
        blame(entry.workflowId, `${stage}: promoted after a release that started later (moved back to an older build)`);
      }
      newestStart = Math.max(newestStart, start);
      promoted.add(entry.digest);
    }
    environment = entry.environmentDigest;
  }

  const head = ledger.at(-1);
  const environmentTag = tags.get(stage) ?? null;
  if (environmentTag !== environment) {
    blame(
      head?.workflowId,
      `${stage}: environment tag holds ${environmentTag ?? 'nothing'}, the ledger says ${environment ?? 'nothing'}`,
    );
  }

  for (const [tag, digest] of tags) {
    const owner = tag === stage ? byDigest.get(digest) : byTag.get(tag);
    if (!promoted.has(digest)) {
      blame(owner?.workflowId, `${stage}: tag ${tag} points at ${digest}, which no release promoted there`);
    } else if (tag !== stage && owner?.digest !== digest) {
      blame(owner?.workflowId, `${stage}: tag ${tag} points at ${digest}, not at its release's digest`);
    }
  }

  const lock = facts.lock;
  if (lock?.holder) {
    const holder = byWorkflow.get(lock.holder.workflowId)?.workflowId;
    blame(holder, `${stage}: lock still held by ${lock.holder.workflowId} after every release ended`);
  }
  for (const queued of lock?.queue ?? []) {
    blame(byWorkflow.get(queued.workflowId)?.workflowId, `${stage}: ${queued.workflowId} still queued for the lock`);
  }
}

export function checkSourceTags(sourceTags: Map<string, string>, byTag: Map<string, ReleaseFacts>, blame: Blame): void {
  for (const [tag, digest] of sourceTags) {
    const owner = byTag.get(tag);
    if (owner?.digest !== digest) {
      blame(owner?.workflowId, `dev: tag ${tag} points at ${digest}, the run pushed ${owner?.digest ?? 'no such tag'}`);
    }
  }
  for (const [tag, owner] of byTag) {
    if (!sourceTags.has(tag)) {
      blame(owner.workflowId, `dev: tag ${tag} is gone from the source repository`);
    }
  }
}

/** Checks the uploads and manifest writes the proxies recorded. */
export function checkTraffic(input: TruthInput, byDigest: Map<string, ReleaseFacts>, blame: Blame): void {
  const owners = (blob: string) => input.releases.filter((release) => release.blobs.includes(blob));
  for (const commit of input.uploadCommits) {
    const matches = commit.bodyDigest === commit.claimedDigest;
    const committed = commit.forwarded && commit.status !== undefined && commit.status >= 200 && commit.status < 300;
    const where = `${commit.proxy}/${commit.repository}`;
    let problem: string | undefined;
    if (committed && !matches) {
      problem = `upload to ${where} committed as ${commit.claimedDigest}, but its bytes hash to ${commit.bodyDigest}`;
    } else if (commit.bodyComplete && !matches) {
      problem = `upload to ${where} sent a complete body for ${commit.claimedDigest} that hashes to ${commit.bodyDigest}`;
    } else if (committed && owners(commit.claimedDigest).length === 0) {
      problem = `upload to ${where} committed ${commit.claimedDigest}, which is no blob of any release`;
    }
    if (problem) {
      const releases = owners(commit.claimedDigest);
      if (releases.length === 0) {
        blame(undefined, problem);
      }
      for (const release of releases) {
        blame(release.workflowId, problem);
      }
    }
  }

  for (const put of input.manifestPuts) {
    const stored = put.forwarded && put.status !== undefined && put.status >= 200 && put.status < 300;
    if (!stored) {
      continue;
    }
    const owner = byDigest.get(put.bodyDigest);
    const where = `${put.proxy}/${put.repository}:${put.reference}`;
    if (!owner) {
      blame(undefined, `manifest PUT to ${where} stored ${put.bodyDigest}, which is no release's manifest`);
    } else if (put.reference.startsWith('sha256:') && put.reference !== put.bodyDigest) {
      blame(owner.workflowId, `manifest PUT to ${where} sent bytes of ${put.bodyDigest}`);
    }
  }
}
