import { allBlobs, pushImage, pushMultiPlatformImage } from '../../scripts/lib/images';
import { type LocalRegistry, startRegistry } from '../../scripts/lib/registry';
import { BlobTransferError, DigestMismatchError, type ProgressEvent, Reference, RegistryClient } from '../../src/oci';
import { replyError, startScriptedServer } from '../fakes/scripted-server';
import { type RegistryProxy, startRegistryProxy } from '../helpers/registry-proxy';

const MiB = 1024 * 1024;

let source: LocalRegistry;
let destination: LocalRegistry;
let client: RegistryClient;
const proxies: RegistryProxy[] = [];

beforeAll(async () => {
  [source, destination] = await Promise.all([startRegistry(), startRegistry()]);
  client = new RegistryClient();
});

afterAll(async () => {
  await client.close();
  await Promise.all(proxies.map((proxy) => proxy.close()));
  await Promise.all([source.stop(), destination.stop()]);
});

async function proxy(registry: LocalRegistry, options: Parameters<typeof startRegistryProxy>[1] = {}) {
  const started = await startRegistryProxy(registry.url, options);
  proxies.push(started);
  return started;
}

async function status(url: string, accept = '*/*'): Promise<number> {
  const response = await fetch(url, { method: 'HEAD', headers: { accept } });
  return response.status;
}

test('same-registry copy uploads no blob bytes', async () => {
  const index = await pushMultiPlatformImage(source, 'team/mount', { tag: 'v1' });
  const counting = await proxy(source);

  const result = await client.copy(
    Reference.parse(`${counting.host}/team/mount:v1`),
    Reference.parse(`${counting.host}/prod/mount:v1`),
  );

  expect(result.digest).toBe(index.digest);
  expect(result.blobs.mounted).toBe(allBlobs(index).length);
  expect(counting.bodyBytes(/\/blobs\/uploads\//)).toBe(0);
  expect(counting.requests.filter((request) => request.path.includes('mount='))).toHaveLength(allBlobs(index).length);
  // Only manifests carried bytes, and no blob was read.
  expect(counting.bodyBytes(/\/manifests\//)).toBeGreaterThan(0);
  expect(counting.requests.filter((request) => request.method === 'GET' && request.path.includes('/blobs/'))).toEqual(
    [],
  );
});

test('blob corrupt on every GET fails the copy', async () => {
  const image = await pushImage(
    source,
    'team/corrupt',
    { layers: [{ files: [{ path: 'ok', content: 'fine' }] }, { randomBytes: 8 * MiB }] },
    'v1',
  );
  const big = image.blobs[2];
  const flipping = await proxy(source, { corruptBlob: { digest: big.digest, offset: 4 * MiB + 17 } });
  const counting = await proxy(destination);

  const copying = client.copy(
    Reference.parse(`${flipping.host}/team/corrupt:v1`),
    Reference.parse(`${counting.host}/prod/corrupt:v1`),
  );

  await expect(copying).rejects.toBeInstanceOf(DigestMismatchError);
  await expect(copying).rejects.toThrow(big.digest);
  // The second GET returned the same wrong content, which shows it is stored that way; no third attempt follows.
  expect(flipping.requests.filter((request) => request.path.endsWith(`/blobs/${big.digest}`))).toHaveLength(2);
  // Every upload of the corrupt blob ended before its last byte, so the registry could not commit it.
  const uploads = counting.requests.filter((request) => request.method === 'PUT' && request.path.includes('/uploads/'));
  const corruptUploads = uploads.filter((request) => request.path.includes(encodeURIComponent(big.digest)));
  expect(corruptUploads).toHaveLength(2);
  for (const upload of corruptUploads) {
    expect(upload.bodyBytes).toBeLessThan(big.size);
  }
  expect(await status(`${destination.url}/v2/prod/corrupt/blobs/${big.digest}`)).toBe(404);
  expect(
    await status(`${destination.url}/v2/prod/corrupt/manifests/v1`, 'application/vnd.oci.image.manifest.v1+json'),
  ).toBe(404);
  expect(await client.getTagDigest(Reference.parse(`${destination.host}/prod/corrupt:v1`))).toBeUndefined();
});

test('byte flipped in transit is fetched again', async () => {
  const image = await pushImage(source, 'team/flip-once', { layers: [{ randomBytes: 2 * MiB }] }, 'v1');
  const layer = image.blobs[1];
  const flipping = await proxy(source, { corruptBlob: { digest: layer.digest, offset: [MiB + 5] } });

  const result = await client.copy(
    Reference.parse(`${flipping.host}/team/flip-once:v1`),
    Reference.parse(`${destination.host}/prod/flip-once:v1`),
  );

  expect(result.digest).toBe(image.digest);
  expect(flipping.requests.filter((request) => request.path.endsWith(`/blobs/${layer.digest}`))).toHaveLength(2);
  expect(await status(`${destination.url}/v2/prod/flip-once/blobs/${layer.digest}`)).toBe(200);
  expect(await client.getTagDigest(Reference.parse(`${destination.host}/prod/flip-once:v1`))).toBe(image.digest);
});

test('blob corrupted anew each attempt is a transfer error', async () => {
  const image = await pushImage(source, 'team/flip-each', { layers: [{ randomBytes: 2 * MiB }] }, 'v1');
  const layer = image.blobs[1];
  const flipping = await proxy(source, { corruptBlob: { digest: layer.digest, offset: [10, MiB, MiB + 99] } });

  const copying = client.copy(
    Reference.parse(`${flipping.host}/team/flip-each:v1`),
    Reference.parse(`${destination.host}/prod/flip-each:v1`),
  );

  await expect(copying).rejects.toBeInstanceOf(BlobTransferError);
  await expect(copying).rejects.toThrow(layer.digest);
  expect(flipping.requests.filter((request) => request.path.endsWith(`/blobs/${layer.digest}`))).toHaveLength(3);
  expect(await status(`${destination.url}/v2/prod/flip-each/blobs/${layer.digest}`)).toBe(404);
});

test('failed upload start drops the GET quietly', async () => {
  // Small blobs and a refusal that comes only after retries: undici has received the whole body by then, which is
  // the case in which dropping an unread body emits 'error'.
  await pushImage(source, 'team/no-upload', { layers: [{ files: [{ path: 'a', content: 'a' }] }] }, 'v1');
  const refusing = await startScriptedServer((request, response) => {
    if (request.method === 'POST') {
      replyError(response, 503, 'UNAVAILABLE', 'uploads are paused');
    }
  });
  const oneAtATime = new RegistryClient({ concurrency: 1, retry: { attempts: 2, minDelayMs: 100 } });

  try {
    const copying = oneAtATime.copy(
      Reference.parse(`${source.host}/team/no-upload:v1`),
      Reference.parse(`${refusing.host}/prod/no-upload:v1`),
    );

    await expect(copying).rejects.toThrow('503 UNAVAILABLE');
    // An 'error' event without a listener would surface here, failing the test as it ends a worker process.
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Two requests per attempt, three attempts of the first blob before the copy gives up.
    expect(refusing.requests.filter((request) => request.method === 'POST')).toHaveLength(6);
  } finally {
    await oneAtATime.close();
    await refusing.close();
  }
});

test('blob cut off mid-stream is copied again from a fresh GET', async () => {
  const image = await pushImage(source, 'team/reset', { layers: [{ randomBytes: 6 * MiB }] }, 'v1');
  const layer = image.blobs[1];
  const resetting = await proxy(source, { resetBlob: { digest: layer.digest, afterBytes: 2 * MiB, times: 1 } });
  const events: ProgressEvent[] = [];

  const result = await client.copy(
    Reference.parse(`${resetting.host}/team/reset:v1`),
    Reference.parse(`${destination.host}/prod/reset:v1`),
    { onProgress: (event) => events.push(event) },
  );

  expect(result.digest).toBe(image.digest);
  expect(resetting.requests.filter((request) => request.path.endsWith(`/blobs/${layer.digest}`))).toHaveLength(2);
  expect(await status(`${destination.url}/v2/prod/reset/blobs/${layer.digest}`)).toBe(200);
  expect(events).toContainEqual({ kind: 'blob-verified', digest: layer.digest, size: layer.size });
  expect(events).toContainEqual({ kind: 'blob-progress', digest: layer.digest, done: layer.size, total: layer.size });
});

test('copy with PATCH uploads keeps the digest', async () => {
  const image = await pushImage(source, 'team/patch', { layers: [{ randomBytes: 3 * MiB }] }, 'v1');
  const patching = new RegistryClient({ uploadMethod: 'patch', concurrency: 1 });
  const counting = await proxy(destination);

  try {
    const result = await patching.copy(
      Reference.parse(`${source.host}/team/patch:v1`),
      Reference.parse(`${counting.host}/prod/patch:v1`),
    );

    expect(result.digest).toBe(image.digest);
    const patches = counting.requests.filter((request) => request.method === 'PATCH');
    expect(patches).toHaveLength(image.blobs.length);
    expect(patches.reduce((sum, request) => sum + request.bodyBytes, 0)).toBe(result.bytesUploaded);
  } finally {
    await patching.close();
  }
});
