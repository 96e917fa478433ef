import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { allBlobs, pushImage, pushMultiPlatformImage } from '../../scripts/lib/images';
import { type LocalRegistry, startRegistry } from '../../scripts/lib/registry';
import { createRegistryActivities } from '../../activities/registry';
import type { CopyProgress } from '../../activities/types';
import { RegistryClient } from '../../src/oci/client';
import { Transport } from '../../src/oci/transport';
import { tagDigest } from '../helpers/pipelines';

let registry: LocalRegistry;
let secured: LocalRegistry;
const activities = createRegistryActivities(
  new RegistryClient({ credentials: {} }),
  new Transport({ credentials: {} }),
);

beforeAll(async () => {
  [registry, secured] = await Promise.all([startRegistry(), startRegistry({ users: { ci: 'right' } })]);
});

afterAll(async () => {
  await Promise.all([registry?.stop(), secured?.stop()]);
});

/** Runs an activity in a fresh activity context and records its heartbeats. */
async function run<A extends unknown[], R>(
  activity: (...args: A) => Promise<R>,
  ...args: A
): Promise<{ result: R; heartbeats: unknown[] }> {
  const environment = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
  const heartbeats: unknown[] = [];
  environment.on('heartbeat', (details: unknown) => heartbeats.push(details));
  const result = (await environment.run(activity, ...args)) as R;
  return { result, heartbeats };
}

/** Returns the failure an activity throws, or fails the test when it succeeds. */
async function failure<A extends unknown[]>(
  activity: (...args: A) => Promise<unknown>,
  ...args: A
): Promise<ApplicationFailure> {
  try {
    await run(activity, ...args);
  } catch (error) {
    expect(error).toBeInstanceOf(ApplicationFailure);
    return error as ApplicationFailure;
  }
  throw new Error('the activity succeeded, expected it to fail');
}

test('copy twice uploads once and skips every blob the second time', async () => {
  const image = await pushMultiPlatformImage(registry, 'src/app', { tag: 'v1', attestations: true });
  const blobs = allBlobs(image);
  const blobBytes = blobs.reduce((sum, blob) => sum + blob.size, 0);
  const input = { source: `${registry.host}/src/app@${image.digest}`, repository: `${registry.host}/dst/app` };

  const first = await run(activities.copyImage, input);
  expect(first.result.digest).toBe(image.digest);
  expect(first.result.blobsCopied + first.result.blobsMounted).toBe(blobs.length);
  expect(first.result.blobsSkipped).toBe(0);
  const last = first.heartbeats.at(-1) as CopyProgress;
  expect(last).toEqual({ blobsDone: blobs.length, bytesDone: blobBytes });

  const second = await run(activities.copyImage, input);
  expect(second.result.digest).toBe(image.digest);
  expect(second.result.blobsCopied).toBe(0);
  expect(second.result.bytesUploaded).toBe(0);
  expect(await tagDigest(registry.url, 'dst/app', 'latest')).toBeUndefined();
});

test('copy source without a digest is refused for good', async () => {
  const refused = await failure(activities.copyImage, {
    source: `${registry.host}/src/app:v1`,
    repository: `${registry.host}/dst/app`,
  });
  expect(refused.nonRetryable).toBe(true);
  expect(refused.type).toBe('InvalidReferenceError');
  expect(refused.message).toContain('has no digest');
});

test('tags are read, moved with verification and deleted', async () => {
  const first = await pushImage(registry, 'tags/app', { layers: [{ randomBytes: 500 }] }, 'one');
  const second = await pushImage(registry, 'tags/app', { layers: [{ randomBytes: 600 }] }, 'two');
  const repository = `${registry.host}/tags/app`;

  expect((await run(activities.readTag, { repository, tag: 'prod' })).result).toEqual({ digest: null });
  expect((await run(activities.moveTag, { repository, tag: 'prod', digest: first.digest })).result).toEqual({
    digest: first.digest,
  });
  expect((await run(activities.moveTag, { repository, tag: 'prod', digest: second.digest })).result.digest).toBe(
    second.digest,
  );
  expect((await run(activities.readTag, { repository, tag: 'prod' })).result.digest).toBe(second.digest);
  expect(await tagDigest(registry.url, 'tags/app', 'prod')).toBe(second.digest);

  expect((await run(activities.deleteTag, { repository, tag: 'prod' })).result).toEqual({ digest: null });
  expect(await tagDigest(registry.url, 'tags/app', 'prod')).toBeUndefined();
  expect((await run(activities.deleteTag, { repository, tag: 'prod' })).result).toEqual({ digest: null });
  expect(await tagDigest(registry.url, 'tags/app', 'two')).toBe(second.digest);
});

test('moving a tag to a digest the repository lacks fails for good', async () => {
  const missing = `sha256:${'0e'.repeat(32)}`;
  const refused = await failure(activities.moveTag, {
    repository: `${registry.host}/tags/app`,
    tag: 'prod',
    digest: missing,
  });
  expect(refused.nonRetryable).toBe(true);
  expect(refused.type).toBe('RegistryError');
  expect(refused.message).toContain('MANIFEST_UNKNOWN');
});

test('bad references and rejected credentials are not retried', async () => {
  const badReference = await failure(activities.resolveDigest, { reference: 'HTTP://nope/App' });
  expect(badReference.nonRetryable).toBe(true);
  expect(badReference.type).toBe('InvalidReferenceError');

  const denied = await failure(activities.resolveDigest, { reference: `${secured.host}/team/app:v1` });
  expect(denied.nonRetryable).toBe(true);
  expect(denied.type).toBe('AuthenticationError');
  expect(denied.message).toContain(secured.host);
});

test('resolve returns the digest a tag points at', async () => {
  const image = await pushImage(registry, 'resolve/app', { layers: [{ randomBytes: 100 }] }, 'v2');
  const { result } = await run(activities.resolveDigest, { reference: `${registry.host}/resolve/app:v2` });
  expect(result).toEqual({ digest: image.digest, mediaType: image.mediaType, size: image.size });
});
