/**
 * Copying referrers between real Distribution registries, which have no referrers API: the source lists them in its
 * referrers tag and the copy writes the destination's. For registries that have the referrers API, a proxy in front
 * of a registry serves it.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pushImage, pushMultiPlatformImage, type PushedManifest } from '../../scripts/lib/images';
import { type LocalRegistry, startRegistry } from '../../scripts/lib/registry';
import { Reference, RegistryClient } from '../../src/oci';
import { type Descriptor, parseDigest } from '../../src/oci/digest';
import { listReferrers, referrersTag } from '../../src/oci/referrers';
import { Transport } from '../../src/oci/transport';
import { pushReferrer, tagReferrers } from '../helpers/referrers';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const SIGNATURE = 'application/vnd.example.signature.v1';
const SBOM = 'application/vnd.example.sbom.v1';

let source: LocalRegistry;
let target: LocalRegistry;
let client: RegistryClient;
let transport: Transport;

beforeAll(async () => {
  [source, target] = await Promise.all([startRegistry(), startRegistry()]);
  client = new RegistryClient();
  transport = new Transport();
});

afterAll(async () => {
  await client?.close();
  await transport?.close();
  await Promise.all([source?.stop(), target?.stop()]);
});

async function manifestStatus(registry: LocalRegistry, repository: string, reference: string): Promise<number> {
  const response = await fetch(`${registry.url}/v2/${repository}/manifests/${reference}`, {
    method: 'HEAD',
    headers: { accept: `${OCI_MANIFEST}, ${OCI_INDEX}` },
  });
  return response.status;
}

/** Pushes an image with a signature, an SBOM and a signature of the SBOM, and lists them in referrers tags. */
async function signedImage(repository: string): Promise<{ image: PushedManifest; referrers: Descriptor[] }> {
  const image = await pushImage(source, repository, { layers: [{ randomBytes: 4096 }] }, 'v1');
  const signature = await pushReferrer(source, repository, image, SIGNATURE, 'signed v1');
  const sbom = await pushReferrer(source, repository, image, SBOM, 'sbom of v1');
  await tagReferrers(source, repository, image, [signature, sbom]);
  const sbomSignature = await pushReferrer(source, repository, sbom, SIGNATURE, 'signed sbom');
  await tagReferrers(source, repository, sbom, [sbomSignature]);
  return { image, referrers: [signature, sbom, sbomSignature] };
}

function ref(registry: LocalRegistry, path: string): Reference {
  return Reference.parse(`${registry.host}/${path}`);
}

test('copy with referrers brings signatures and their referrers', async () => {
  const { image, referrers } = await signedImage('signed/app');
  const [signature, sbom, sbomSignature] = referrers;

  const result = await client.copy(ref(source, 'signed/app:v1'), ref(target, 'signed/copy:v1'), { referrers: true });

  expect(result.digest).toBe(image.digest);
  expect(result.referrers).toBe(3);
  for (const referrer of referrers) {
    expect(await manifestStatus(target, 'signed/copy', referrer.digest)).toBe(200);
  }
  const listed = await listReferrers(transport, ref(target, 'signed/copy'), parseDigest(image.digest));
  expect(listed.source).toBe('tag');
  expect(listed.referrers.map((entry) => entry.digest).sort()).toEqual([signature.digest, sbom.digest].sort());
  expect(listed.referrers.find((entry) => entry.digest === sbom.digest)).toEqual(sbom);
  const ofSbom = await listReferrers(transport, ref(target, 'signed/copy'), sbom.digest);
  expect(ofSbom.referrers).toEqual([sbomSignature]);
  expect(await manifestStatus(target, 'signed/copy', 'v1')).toBe(200);
});

test('copy without referrers leaves them behind', async () => {
  const { image, referrers } = await signedImage('signed/plain');

  const result = await client.copy(ref(source, 'signed/plain:v1'), ref(target, 'signed/plain:v1'));

  expect(result.referrers).toBe(0);
  expect(await manifestStatus(target, 'signed/plain', referrers[0].digest)).toBe(404);
  expect(await manifestStatus(target, 'signed/plain', referrersTag(parseDigest(image.digest)))).toBe(404);
});

test('second copy with referrers adds nothing', async () => {
  const { image } = await signedImage('signed/again');
  const destination = ref(target, 'signed/again:v1');
  await client.copy(ref(source, 'signed/again:v1'), destination, { referrers: true });
  const tagged = referrersTag(parseDigest(image.digest));
  const before = await fetch(`${target.url}/v2/signed/again/manifests/${tagged}`, { headers: { accept: OCI_INDEX } });

  const result = await client.copy(ref(source, 'signed/again:v1'), destination, { referrers: true });

  const after = await fetch(`${target.url}/v2/signed/again/manifests/${tagged}`, { headers: { accept: OCI_INDEX } });
  expect(result.referrers).toBe(3);
  expect(result.blobs.copied).toBe(0);
  expect(after.headers.get('docker-content-digest')).toBe(before.headers.get('docker-content-digest'));
});

test('referrer added later reaches an existing copy', async () => {
  const image = await pushImage(source, 'signed/late', { layers: [{ randomBytes: 1024 }] }, 'v1');
  await client.copy(ref(source, 'signed/late:v1'), ref(target, 'signed/late:v1'), { referrers: true });
  const signature = await pushReferrer(source, 'signed/late', image, SIGNATURE, 'signed late');
  await tagReferrers(source, 'signed/late', image, [signature]);

  const result = await client.copy(ref(source, 'signed/late:v1'), ref(target, 'signed/late:v1'), { referrers: true });

  expect(result.referrers).toBe(1);
  expect(await manifestStatus(target, 'signed/late', signature.digest)).toBe(200);
});

test('referrers of a platform manifest in an index are copied', async () => {
  const index = await pushMultiPlatformImage(source, 'signed/multi', { tag: 'v1', attestations: false });
  const arm = index.children[1];
  const signature = await pushReferrer(source, 'signed/multi', arm, SIGNATURE, 'signed arm64');
  await tagReferrers(source, 'signed/multi', arm, [signature]);

  const result = await client.copy(ref(source, 'signed/multi:v1'), ref(target, 'signed/multi:v1'), {
    referrers: true,
  });

  expect(result.referrers).toBe(1);
  const listed = await listReferrers(transport, ref(target, 'signed/multi'), parseDigest(arm.digest));
  expect(listed.referrers.map((entry) => entry.digest)).toEqual([signature.digest]);
});

/**
 * Starts a proxy in front of `upstream` that serves `GET /v2/<name>/referrers/<digest>` from `listing` (an empty index
 * for other subjects), as a registry with the referrers API does, and forwards every other request.
 */
async function referrersApiProxy(
  upstream: LocalRegistry,
  listing: Map<string, Descriptor[]>,
): Promise<{ host: string; paths: string[]; close(): Promise<void> }> {
  const paths: string[] = [];
  const origin = new URL(upstream.url);
  const server: Server = createServer((incoming, outgoing) => {
    const path = incoming.url ?? '';
    paths.push(`${incoming.method} ${path}`);
    const match = /^\/v2\/.+\/referrers\/([^/?]+)/.exec(path);
    if (match && incoming.method === 'GET') {
      const manifests = listing.get(decodeURIComponent(match[1])) ?? [];
      outgoing.writeHead(200, { 'content-type': OCI_INDEX });
      outgoing.end(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
      return;
    }
    const forwarded = httpRequest(
      { host: origin.hostname, port: origin.port, method: incoming.method, path, headers: incoming.headers },
      (response) => {
        outgoing.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(outgoing);
      },
    );
    forwarded.on('error', () => outgoing.destroy());
    incoming.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    paths,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

test('referrers API at the source is used and its tag ignored', async () => {
  const image = await pushImage(source, 'signed/api', { layers: [{ randomBytes: 1024 }] }, 'v1');
  const signature = await pushReferrer(source, 'signed/api', image, SIGNATURE, 'signed through the API');
  const proxy = await referrersApiProxy(source, new Map([[image.digest, [signature]]]));
  const copier = new RegistryClient({ insecureRegistries: [proxy.host] });

  try {
    const result = await copier.copy(Reference.parse(`${proxy.host}/signed/api:v1`), ref(target, 'signed/api:v1'), {
      referrers: true,
    });

    expect(result.referrers).toBe(1);
    expect(await manifestStatus(target, 'signed/api', signature.digest)).toBe(200);
    expect(proxy.paths).toContain(`GET /v2/signed/api/referrers/${image.digest}`);
    expect(proxy.paths.some((path) => path.includes(referrersTag(parseDigest(image.digest))))).toBe(false);
  } finally {
    await copier.close();
    await proxy.close();
  }
});

test('destination with the referrers API gets no referrers tag', async () => {
  const { image } = await signedImage('signed/to-api');
  const proxy = await referrersApiProxy(target, new Map());
  const copier = new RegistryClient({ insecureRegistries: [proxy.host] });

  try {
    const result = await copier.copy(
      ref(source, 'signed/to-api:v1'),
      Reference.parse(`${proxy.host}/signed/to-api:v1`),
      {
        referrers: true,
      },
    );

    expect(result.referrers).toBe(3);
    expect(proxy.paths.filter((path) => path.startsWith('PUT') && path.includes('/manifests/sha256-'))).toEqual([]);
    // The tag is written last, after every referrer.
    const manifestPuts = proxy.paths.filter((path) => path.startsWith('PUT /v2/signed/to-api/manifests/'));
    expect(manifestPuts).toHaveLength(5);
    expect(manifestPuts[manifestPuts.length - 1]).toBe('PUT /v2/signed/to-api/manifests/v1');
    expect(await manifestStatus(target, 'signed/to-api', referrersTag(parseDigest(image.digest)))).toBe(404);
  } finally {
    await copier.close();
    await proxy.close();
  }
});
