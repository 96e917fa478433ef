/**
 * Referrers (OCI distribution spec 1.1): manifests that name another manifest as their `subject`, such as
 * signatures, SBOMs and attestations. A registry with the referrers API lists them at `/v2/<name>/referrers/<digest>`.
 * A registry without it returns 404 there, and clients keep the list themselves in an index tagged `<alg>-<hex>`.
 */
import type { Descriptor, Digest } from './digest';
import { parseIndexManifests, MAX_MANIFEST_BYTES } from './manifest';
import { MediaType } from './media-types';
import type { Reference } from './reference';
import { headerValue, readLimited } from './response';
import { nextLink } from './tags';
import type { Transport } from './transport';

/** The referrers of one subject, and where the registry keeps them. */
export interface ReferrerList {
  /** `api` when the list came from the referrers API, `tag` when it came from the referrers tag. */
  source: 'api' | 'tag';
  referrers: Descriptor[];
}

/** Returns the tag of the referrers index of a registry without the API, `sha256-<hex>` for `sha256:<hex>`. */
export function referrersTag(subject: Digest): string {
  return subject.replace(':', '-');
}

/**
 * Lists the referrers of `subject` in `repo`: from the referrers API, following `Link` pages, or from the referrers
 * tag when the registry has no API. A subject without referrers gives an empty list.
 */
export async function listReferrers(
  transport: Transport,
  repo: Reference,
  subject: Digest,
  signal?: AbortSignal,
): Promise<ReferrerList> {
  const referrers: Descriptor[] = [];
  let path: string | undefined = `/v2/${repo.repository}/referrers/${subject}`;
  while (path !== undefined) {
    const response = await transport.request({
      method: 'GET',
      registry: repo.registry,
      repository: repo.repository,
      path,
      headers: { accept: MediaType.ociIndex },
      actions: ['pull'],
      expect: [200, 404],
      signal,
    });
    if (response.status === 404) {
      await response.body.dump();
      if (referrers.length > 0) {
        // A later page vanished, which a registry with the API does not do on its own.
        throw new Error(`the referrers of ${repo.name}@${subject} changed while they were listed; list them again`);
      }
      return { source: 'tag', referrers: await readReferrersTag(transport, repo, subject, signal) };
    }
    const subjectRef = repo.withDigest(subject);
    const bytes = await readLimited(response.body, MAX_MANIFEST_BYTES, `referrers of ${subjectRef.toString()}`);
    referrers.push(...parseIndexManifests(subjectRef, bytes));
    path = nextLink(headerValue(response.headers, 'link'));
  }
  return { source: 'api', referrers };
}

/** Reads the index under the referrers tag of `subject`; none there means no referrers. */
async function readReferrersTag(
  transport: Transport,
  repo: Reference,
  subject: Digest,
  signal?: AbortSignal,
): Promise<Descriptor[]> {
  const tagged = repo.withTag(referrersTag(subject));
  const response = await transport.request({
    method: 'GET',
    registry: repo.registry,
    repository: repo.repository,
    path: `/v2/${repo.repository}/manifests/${tagged.tag}`,
    headers: { accept: `${MediaType.ociIndex}, ${MediaType.dockerManifestList}` },
    actions: ['pull'],
    expect: [200, 404],
    signal,
  });
  if (response.status === 404) {
    await response.body.dump();
    return [];
  }
  const bytes = await readLimited(response.body, MAX_MANIFEST_BYTES, `referrers index ${tagged.toString()}`);
  return parseIndexManifests(tagged, bytes);
}

/**
 * Adds `added` to the referrers index tagged for `subject` in `repo`, for a registry without the referrers API.
 * `current` is the index's list as listReferrers read it. Entries it has already stay as they are, so adding the
 * same referrers again changes nothing.
 * NOTE: two writers that add to the same index at once can lose one of the additions, as with every client of the
 * referrers tag scheme. The next copy of the same image adds the lost entry again.
 */
export async function addToReferrersTag(
  transport: Transport,
  repo: Reference,
  subject: Digest,
  current: Descriptor[],
  added: Descriptor[],
  signal?: AbortSignal,
): Promise<void> {
  const known = new Set(current.map((referrer) => referrer.digest));
  const missing = added.filter((referrer) => !known.has(referrer.digest));
  if (missing.length === 0) {
    return;
  }
  const index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [...current, ...missing] };
  const response = await transport.request({
    method: 'PUT',
    registry: repo.registry,
    repository: repo.repository,
    path: `/v2/${repo.repository}/manifests/${referrersTag(subject)}`,
    headers: { 'content-type': MediaType.ociIndex },
    body: Buffer.from(JSON.stringify(index)),
    actions: ['pull', 'push'],
    expect: [201],
    signal,
  });
  await response.body.dump();
}
