import { allBlobs, allManifests, pushImage, pushIndex, pushMultiPlatformImage } from '../../scripts/lib/images';
import { type LocalRegistry, startRegistry } from '../../scripts/lib/registry';
import { RegistryClient } from '../../src/oci/client';
import { Reference } from '../../src/oci/reference';
import { gatherImageFacts } from '../../src/policy/facts';

let registry: LocalRegistry;
const client = new RegistryClient();

beforeAll(async () => {
  registry = await startRegistry();
});

afterAll(async () => {
  await registry.stop();
});

function totalSize(root: Parameters<typeof allManifests>[0]): number {
  const manifests = allManifests(root);
  const distinct = new Map<string, number>();
  for (const manifest of manifests) {
    distinct.set(manifest.digest, manifest.size);
  }
  for (const blob of allBlobs(root)) {
    distinct.set(blob.digest, blob.size);
  }
  return [...distinct.values()].reduce((sum, size) => sum + size, 0);
}

describe('image facts', () => {
  it('reads a single image', async () => {
    const image = await pushImage(
      registry,
      'facts/single',
      {
        platform: { os: 'linux', architecture: 'arm', variant: 'v7' },
        layers: [{ files: [{ path: 'app', content: 'hello\n' }] }],
        config: { Labels: { 'org.opencontainers.image.source': 'https://github.com/acme/web' } },
        annotations: { 'org.opencontainers.image.revision': 'abc123' },
      },
      'v1.2.3',
    );
    const facts = await gatherImageFacts(client, Reference.parse(`${registry.host}/facts/single:v1.2.3`));
    expect(facts).toEqual({
      tag: 'v1.2.3',
      digest: image.digest,
      platforms: ['linux/arm/v7'],
      annotations: { 'org.opencontainers.image.revision': 'abc123' },
      labels: { 'org.opencontainers.image.source': 'https://github.com/acme/web' },
      created: '2024-01-01T00:00:00.000Z',
      size: totalSize(image),
    });
  });

  it('reads a multi-platform index', async () => {
    const index = await pushMultiPlatformImage(registry, 'facts/multi', { tag: 'latest' });
    const facts = await gatherImageFacts(client, Reference.parse(`${registry.host}/facts/multi@${index.digest}`), {
      tag: 'latest',
    });
    expect(facts.digest).toBe(index.digest);
    expect(facts.tag).toBe('latest');
    expect(facts.platforms).toEqual(['linux/amd64', 'linux/arm64/v8']);
    expect(facts.size).toBe(totalSize(index));
    expect(facts.created).toBe('2024-01-01T00:00:00.000Z');
  });

  it('keeps labels all platforms share', async () => {
    const amd = await pushImage(registry, 'facts/labels', {
      platform: { os: 'linux', architecture: 'amd64' },
      layers: [{ files: [{ path: 'a', content: 'a' }] }],
      config: { Labels: { team: 'payments', arch: 'amd64' } },
    });
    const arm = await pushImage(registry, 'facts/labels', {
      platform: { os: 'linux', architecture: 'arm64' },
      layers: [{ files: [{ path: 'b', content: 'b' }] }],
      config: { Labels: { team: 'payments', arch: 'arm64' } },
    });
    const index = await pushIndex(registry, 'facts/labels', [amd, arm], {
      annotations: { 'org.opencontainers.image.version': '2.0' },
    });
    const facts = await gatherImageFacts(client, Reference.parse(index.reference));
    expect(facts.labels).toEqual({ team: 'payments' });
    expect(facts.annotations).toEqual({ 'org.opencontainers.image.version': '2.0' });
    expect(facts.tag).toBeUndefined();
  });
});
