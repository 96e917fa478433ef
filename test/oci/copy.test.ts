import { createHash } from 'node:crypto';
import {
  allBlobs,
  allManifests,
  pushImage,
  pushIndex,
  pushMultiPlatformImage,
  type PushedManifest,
} from '../../scripts/lib/images';
import { type LocalRegistry, startRegistry } from '../../scripts/lib/registry';
import { Reference, RegistryClient } from '../../src/oci';

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

let source: LocalRegistry;
let destination: LocalRegistry;
let client: RegistryClient;

beforeAll(async () => {
  [source, destination] = await Promise.all([startRegistry(), startRegistry()]);
  client = new RegistryClient();
});

afterAll(async () => {
  await client.close();
  await Promise.all([source.stop(), destination.stop()]);
});

async function headStatus(registry: LocalRegistry, repository: string, kind: 'manifests' | 'blobs', digest: string) {
  const response = await fetch(`${registry.url}/v2/${repository}/${kind}/${digest}`, {
    method: 'HEAD',
    headers: { accept: ACCEPT },
  });
  return response.status;
}

async function manifestBytes(registry: LocalRegistry, repository: string, reference: string): Promise<Buffer> {
  const response = await fetch(`${registry.url}/v2/${repository}/manifests/${reference}`, {
    headers: { accept: ACCEPT },
  });
  expect(response.status).toBe(200);
  return Buffer.from(await response.arrayBuffer());
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Asserts that HEAD returns 200 in the repository for every manifest and every non-foreign blob of the graph. */
async function expectWholeGraph(registry: LocalRegistry, repository: string, root: PushedManifest): Promise<void> {
  for (const manifest of allManifests(root)) {
    expect([manifest.digest, await headStatus(registry, repository, 'manifests', manifest.digest)]).toEqual([
      manifest.digest,
      200,
    ]);
  }
  for (const blob of allBlobs(root).filter((blob) => blob.urls === undefined)) {
    expect([blob.digest, await headStatus(registry, repository, 'blobs', blob.digest)]).toEqual([blob.digest, 200]);
  }
}

function ref(registry: LocalRegistry, path: string): Reference {
  return Reference.parse(`${registry.host}/${path}`);
}

describe('copyImage across registries', () => {
  test('single-platform image keeps its digest', async () => {
    const image = await pushImage(
      source,
      'team/single',
      { layers: [{ files: [{ path: 'etc/motd', content: 'hello\n' }] }, { randomBytes: 3 * 1024 * 1024 }] },
      'v1',
    );

    const result = await client.copy(ref(source, 'team/single:v1'), ref(destination, 'prod/single:v1'));

    expect(result.digest).toBe(image.digest);
    expect(result.mediaType).toBe(image.mediaType);
    expect(result.size).toBe(image.size);
    expect(result.manifests).toBe(1);
    expect(result.blobs).toEqual({ copied: 3, mounted: 0, skipped: 0 });
    expect(result.bytesUploaded).toBe(image.blobs.reduce((sum, blob) => sum + blob.size, 0));
    expect(sha256(await manifestBytes(destination, 'prod/single', 'v1'))).toBe(image.digest);
    await expectWholeGraph(destination, 'prod/single', image);
  });

  test('multi-platform index with attestations keeps its digest', async () => {
    const index = await pushMultiPlatformImage(source, 'team/multi', { tag: 'v1' });
    expect(index.children.filter((child) => child.platform?.os === 'unknown')).toHaveLength(2);

    const result = await client.copy(ref(source, 'team/multi:v1'), ref(destination, 'prod/multi:v1'));

    expect(result.digest).toBe(index.digest);
    expect(result.manifests).toBe(5);
    expect(result.blobs.copied).toBe(allBlobs(index).length);
    expect(sha256(await manifestBytes(destination, 'prod/multi', 'v1'))).toBe(index.digest);
    await expectWholeGraph(destination, 'prod/multi', index);
  });

  test('nested Docker manifest list keeps its digest', async () => {
    const inner = await pushMultiPlatformImage(source, 'team/nested', { format: 'docker' });
    const extra = await pushImage(source, 'team/nested', {
      format: 'docker',
      platform: { os: 'linux', architecture: 's390x' },
      layers: [{ files: [{ path: 'bin/app', content: 'app', mode: 0o755 }] }],
    });
    const outer = await pushIndex(source, 'team/nested', [inner, extra], { tag: 'v1' });

    const result = await client.copy(ref(source, 'team/nested:v1'), ref(destination, 'prod/nested:v1'));

    expect(result.digest).toBe(outer.digest);
    expect(result.manifests).toBe(allManifests(outer).length);
    await expectWholeGraph(destination, 'prod/nested', outer);
  });

  test('copy by digest without a destination tag pushes by digest', async () => {
    const image = await pushImage(source, 'team/bydigest', { layers: [{ files: [{ path: 'a', content: 'a' }] }] });

    const result = await client.copy(
      ref(source, `team/bydigest@${image.digest}`),
      ref(destination, `prod/bydigest@${image.digest}`),
    );

    expect(result.digest).toBe(image.digest);
    await expectWholeGraph(destination, 'prod/bydigest', image);
    expect(await client.listTags(ref(destination, 'prod/bydigest'))).toEqual([]);
  });

  test('foreign layers are left at their URLs', async () => {
    const image = await pushImage(
      source,
      'team/foreign',
      {
        format: 'docker',
        layers: [
          { foreign: { size: 1234, urls: ['https://mcr.example.com/layer.tar.gz'] } },
          { files: [{ path: 'x', content: 'x' }] },
        ],
      },
      'v1',
    );
    const foreign = image.blobs.find((blob) => blob.urls !== undefined)!;

    const result = await client.copy(ref(source, 'team/foreign:v1'), ref(destination, 'prod/foreign:v1'));

    expect(result.digest).toBe(image.digest);
    expect(result.blobs).toEqual({ copied: 2, mounted: 0, skipped: 1 });
    expect(await headStatus(destination, 'prod/foreign', 'blobs', foreign.digest)).toBe(404);
    await expectWholeGraph(destination, 'prod/foreign', image);
  });

  test('second copy only moves the tag', async () => {
    const image = await pushImage(
      source,
      'team/again',
      { layers: [{ files: [{ path: 'a', content: 'again' }] }] },
      'v1',
    );
    await client.copy(ref(source, 'team/again:v1'), ref(destination, 'prod/again:v1'));

    const result = await client.copy(ref(source, 'team/again:v1'), ref(destination, 'prod/again:v2'));

    expect(result.digest).toBe(image.digest);
    expect(result.bytesUploaded).toBe(0);
    expect(result.blobs).toEqual({ copied: 0, mounted: 0, skipped: 0 });
    expect(await client.getTagDigest(ref(destination, 'prod/again:v2'))).toBe(image.digest);
  });

  test('child manifests the destination has are not walked again', async () => {
    const index = await pushMultiPlatformImage(source, 'team/partial', { tag: 'v1' });
    const amd64 = index.children[0];
    await client.copy(ref(source, `team/partial@${amd64.digest}`), ref(destination, `prod/partial@${amd64.digest}`));

    const result = await client.copy(ref(source, 'team/partial:v1'), ref(destination, 'prod/partial:v1'));

    const amd64Blobs = new Set(amd64.blobs.map((blob) => blob.digest));
    const otherBlobs = new Set(
      allManifests(index)
        .filter((manifest) => manifest !== amd64)
        .flatMap((manifest) => manifest.blobs.map((blob) => blob.digest)),
    );
    const shared = [...otherBlobs].filter((digest) => amd64Blobs.has(digest));
    expect(result.digest).toBe(index.digest);
    expect(result.blobs.copied).toBe(otherBlobs.size - shared.length);
    expect(result.blobs.skipped).toBe(shared.length);
    await expectWholeGraph(destination, 'prod/partial', index);
  });
});

describe('copyImage inside one registry', () => {
  test('multi-platform index is mounted into another repository', async () => {
    const index = await pushMultiPlatformImage(source, 'team/local', { tag: 'v1' });

    const result = await client.copy(ref(source, 'team/local:v1'), ref(source, 'staging/local:v1'));

    expect(result.digest).toBe(index.digest);
    expect(result.blobs).toEqual({ copied: 0, mounted: allBlobs(index).length, skipped: 0 });
    expect(result.bytesUploaded).toBe(0);
    await expectWholeGraph(source, 'staging/local', index);
  });
});

describe('manifest bytes', () => {
  test.each(['indented', 'unusual'] as const)('%s formatting keeps its digest', async (style) => {
    const repository = `team/${style}`;
    const annotations = { 'org.example.note': '<b>café & "co"</b>\\path' };
    const image = await pushImage(source, repository, {
      layers: [{ files: [{ path: 'f', content: style }] }],
      annotations,
      style,
    });
    const index = await pushIndex(source, repository, [image], { tag: 'v1', style, annotations });
    const original = await manifestBytes(source, repository, 'v1');
    expect(original.toString()).toContain(style === 'unusual' ? '\\u003cb\\u003e' : '\n   ');

    const result = await client.copy(ref(source, `${repository}:v1`), ref(destination, `prod/${style}:v1`));

    expect(result.digest).toBe(index.digest);
    expect(await manifestBytes(destination, `prod/${style}`, 'v1')).toEqual(original);
    expect(await manifestBytes(destination, `prod/${style}`, image.digest)).toEqual(image.bytes);
  });
});
