/** The chaos run's fault proxy in front of a real registry: forwarding, recording of writes, and each fault kind. */
import { createHash } from 'node:crypto';
import { FaultProxy } from '../../scripts/chaos/fault-proxy';
import { pushImage } from '../../scripts/lib/images';
import { type LocalRegistry, startRegistry } from '../../scripts/lib/registry';

let registry: LocalRegistry;
const proxies: FaultProxy[] = [];

beforeAll(async () => {
  registry = await startRegistry();
});

afterAll(async () => {
  await Promise.all(proxies.map((proxy) => proxy.close()));
  await registry.stop();
});

async function proxyWithFaults(faultRate: number): Promise<FaultProxy> {
  const proxy = new FaultProxy({ name: 'registry-a', upstream: registry.url, seed: 7, faultRate });
  await proxy.start();
  proxies.push(proxy);
  return proxy;
}

const sha256 = (bytes: Uint8Array) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

async function upload(proxy: FaultProxy, body: Buffer, claimed: string): Promise<number> {
  const started = await fetch(`http://${proxy.host}/v2/team/uploads/blobs/uploads/`, { method: 'POST' });
  await started.arrayBuffer();
  const location = new URL(started.headers.get('location') ?? '');
  expect(location.host).toBe(proxy.host);
  location.searchParams.set('digest', claimed);
  const committed = await fetch(location, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    body,
  });
  await committed.arrayBuffer();
  return committed.status;
}

test('uploads are recorded with the digest of their bytes', async () => {
  const proxy = await proxyWithFaults(0);
  const good = Buffer.from('the bytes the digest names');
  const bad = Buffer.from('other bytes');

  expect(await upload(proxy, good, sha256(good))).toBe(201);
  expect(await upload(proxy, bad, sha256(good))).toBe(400);

  expect(proxy.traffic.uploadCommits).toEqual([
    expect.objectContaining({ claimedDigest: sha256(good), bodyDigest: sha256(good), status: 201, bodyComplete: true }),
    expect.objectContaining({ claimedDigest: sha256(good), bodyDigest: sha256(bad), status: 400, bodyComplete: true }),
  ]);
  expect(Object.values(proxy.faults).every((count) => count === 0)).toBe(true);
});

test('blob GETs meet every read fault kind', async () => {
  const image = await pushImage(registry, 'team/faults', { layers: [{ randomBytes: 256 * 1024 }] }, 'v1');
  const layer = image.blobs[1];
  const proxy = await proxyWithFaults(0.999);
  proxy.enableFaults();
  const seen = new Set<string>();

  for (let round = 0; round < 80; round += 1) {
    const response = await fetch(`http://${proxy.host}/v2/team/faults/blobs/${layer.digest}`);
    if (response.status !== 200) {
      seen.add(String(response.status));
      if (response.status === 429) {
        expect(response.headers.get('retry-after')).toBe('1');
      }
      await response.arrayBuffer();
      continue;
    }
    try {
      const body = Buffer.from(await response.arrayBuffer());
      expect(body.length).toBe(layer.size);
      expect(sha256(body)).not.toBe(layer.digest);
      seen.add('flipped');
    } catch {
      seen.add('cut');
    }
  }

  expect([...seen].sort()).toEqual(['429', '500', '502', '503', 'cut', 'flipped']);
  expect(proxy.faults['cut-blob']).toBeGreaterThan(0);
  expect(proxy.faults['flipped-byte']).toBeGreaterThan(0);
});

test('dropped reply leaves the write done', async () => {
  const image = await pushImage(registry, 'team/dropped', { layers: [{ randomBytes: 1024 }] });
  const proxy = await proxyWithFaults(0.999);
  proxy.enableFaults();

  for (let round = 0; round < 30 && proxy.faults['reply-dropped'] === 0; round += 1) {
    const response = await fetch(`http://${proxy.host}/v2/team/dropped/manifests/tag-${round}`, {
      method: 'PUT',
      headers: { 'content-type': image.mediaType },
      body: image.bytes,
    });
    await response.arrayBuffer();
  }

  const dropped = proxy.traffic.manifestPuts.find((put) => put.forwarded);
  expect(proxy.faults['reply-dropped']).toBe(1);
  expect(dropped).toEqual(expect.objectContaining({ bodyDigest: image.digest, status: 201 }));
  const stored = await fetch(`${registry.url}/v2/team/dropped/manifests/${dropped?.reference}`, {
    method: 'HEAD',
    headers: { accept: image.mediaType },
  });
  expect(stored.headers.get('docker-content-digest')).toBe(image.digest);
});
