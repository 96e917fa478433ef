import { createHash } from 'node:crypto';
import { pushImage, pushMultiPlatformImage } from '../../scripts/lib/images';
import { type LocalRegistry, startRegistry } from '../../scripts/lib/registry';
import { DigestMismatchError, parseDigest, Reference, RegistryClient, UnsupportedManifestError } from '../../src/oci';
import { getManifest, resolveManifest } from '../../src/oci/manifest';
import { listTags, nextLink } from '../../src/oci/tags';
import { Transport } from '../../src/oci/transport';
import { type ScriptedServer, startScriptedServer } from '../fakes/scripted-server';
import { startRegistryProxy } from '../helpers/registry-proxy';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

let registry: LocalRegistry;
let client: RegistryClient;
let transport: Transport;
const servers: ScriptedServer[] = [];

beforeAll(async () => {
  registry = await startRegistry();
  client = new RegistryClient();
  transport = new Transport();
});

afterAll(async () => {
  await Promise.all([client.close(), transport.close(), ...servers.map((server) => server.close())]);
  await registry.stop();
});

function sha256(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

async function scripted(handler: Parameters<typeof startScriptedServer>[0]): Promise<ScriptedServer> {
  const server = await startScriptedServer(handler);
  servers.push(server);
  return server;
}

describe('resolve', () => {
  test('tag resolves with one HEAD', async () => {
    const index = await pushMultiPlatformImage(registry, 'team/resolve', { tag: 'v1' });

    const counting = await startRegistryProxy(registry.url);

    const descriptor = await client
      .resolve(Reference.parse(`${counting.host}/team/resolve:v1`))
      .finally(() => counting.close());

    expect(descriptor).toEqual({ mediaType: index.mediaType, digest: index.digest, size: index.size });
    const manifestRequests = counting.requests.filter((request) => request.path.includes('/manifests/'));
    expect(manifestRequests.map((request) => request.method)).toEqual(['HEAD']);
  });

  test('missing tag is a RegistryError naming the manifest', async () => {
    await expect(client.resolve(Reference.parse(`${registry.host}/team/resolve:nope`))).rejects.toThrow(
      `manifest ${registry.host}/team/resolve:nope: 404`,
    );
  });

  test('HEAD without digest falls back to GET and hashes the body', async () => {
    const body = '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}';
    const server = await scripted((request, response) => {
      if (request.url.startsWith('/v2/app/manifests/')) {
        response.writeHead(200, { 'content-type': OCI_MANIFEST });
        response.end(request.method === 'GET' ? body : undefined);
      }
    });

    const descriptor = await resolveManifest(transport, Reference.parse(`${server.host}/app:v1`));

    expect(descriptor).toEqual({ mediaType: OCI_MANIFEST, digest: sha256(body), size: body.length });
    expect(server.requestsTo('/v2/app/manifests/v1').map((request) => request.method)).toEqual(['HEAD', 'GET']);
  });

  test('schema 1 manifest is rejected with its media type', async () => {
    const server = await scripted((request, response) => {
      if (request.url.startsWith('/v2/old/manifests/')) {
        response.writeHead(200, {
          'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws',
          'docker-content-digest': sha256('x'),
        });
        response.end(request.method === 'GET' ? '{"schemaVersion":1}' : undefined);
      }
    });
    const ref = Reference.parse(`${server.host}/old:v1`);

    const resolving = client.resolve(ref);

    await expect(resolving).rejects.toBeInstanceOf(UnsupportedManifestError);
    await expect(resolving).rejects.toThrow('application/vnd.docker.distribution.manifest.v1+prettyjws');
    await expect(resolving).rejects.toThrow('schema 1');
    await expect(client.copy(ref, Reference.parse(`${registry.host}/old:v1`))).rejects.toBeInstanceOf(
      UnsupportedManifestError,
    );
  });

  test('schema 1 JSON served as application/json is rejected', async () => {
    const server = await scripted((request, response) => {
      if (request.url.startsWith('/v2/old/manifests/')) {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(request.method === 'GET' ? '{"schemaVersion":1,"fsLayers":[]}' : undefined);
      }
    });

    await expect(client.resolve(Reference.parse(`${server.host}/old:v1`))).rejects.toThrow(
      'unsupported media type "application/vnd.docker.distribution.manifest.v1+json"',
    );
  });
});

describe('fetchManifest', () => {
  test('body that does not match the requested digest is rejected', async () => {
    const body = '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}';
    const wanted = parseDigest(sha256('something else'));
    const server = await scripted((_request, response) => {
      response.writeHead(200, { 'content-type': OCI_MANIFEST, 'docker-content-digest': wanted }).end(body);
    });

    const fetching = getManifest(transport, Reference.parse(`${server.host}/app@${wanted}`));

    await expect(fetching).rejects.toBeInstanceOf(DigestMismatchError);
    await expect(fetching).rejects.toThrow(`content digest is ${sha256(body)}, expected ${wanted}`);
  });

  test('Docker-Content-Digest that differs from the body is rejected', async () => {
    const body = '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}';
    const claimed = sha256('another manifest');
    const server = await scripted((_request, response) => {
      response.writeHead(200, { 'content-type': OCI_MANIFEST, 'docker-content-digest': claimed }).end(body);
    });

    await expect(getManifest(transport, Reference.parse(`${server.host}/app:v1`))).rejects.toThrow(
      `content digest is ${sha256(body)}, expected ${claimed}`,
    );
  });

  test('exact bytes come back from a real registry', async () => {
    const image = await pushImage(
      registry,
      'team/fetch',
      { layers: [{ files: [{ path: 'a', content: 'a' }] }], style: 'unusual' },
      'v1',
    );

    const fetched = await client.fetchManifest(Reference.parse(`${registry.host}/team/fetch@${image.digest}`));

    expect(fetched.bytes).toEqual(image.bytes);
    expect(fetched.descriptor).toEqual({ mediaType: OCI_MANIFEST, digest: image.digest, size: image.size });
  });
});

describe('tags', () => {
  test('putTag and getTagDigest agree on the digest', async () => {
    const image = await pushImage(registry, 'team/tags', { layers: [{ files: [{ path: 't', content: 't' }] }] });
    const repo = Reference.parse(`${registry.host}/team/tags`);

    const descriptor = await client.putTag(repo.withDigest(parseDigest(image.digest)), 'prod');

    expect(descriptor.digest).toBe(image.digest);
    expect(await client.getTagDigest(repo.withTag('prod'))).toBe(image.digest);
    expect(await client.getTagDigest(repo.withTag('absent'))).toBeUndefined();
  });

  test('listTags follows Link pagination', async () => {
    const image = await pushImage(registry, 'team/paged', { layers: [{ files: [{ path: 'p', content: 'p' }] }] });
    const repo = Reference.parse(`${registry.host}/team/paged`);
    const tags = ['a1', 'b2', 'c3', 'd4', 'e5'];
    for (const tag of tags) {
      await client.putTag(repo.withDigest(parseDigest(image.digest)), tag);
    }

    const counting = await startRegistryProxy(registry.url);
    const paged = await listTags(transport, Reference.parse(`${counting.host}/team/paged`), undefined, 2).finally(() =>
      counting.close(),
    );

    expect(paged).toEqual(tags);
    expect(counting.requests.filter((request) => request.path.includes('/tags/list'))).toHaveLength(3);
    expect(await client.listTags(repo)).toEqual(tags);
  });

  test('listTags of an unknown repository is empty', async () => {
    expect(await client.listTags(Reference.parse(`${registry.host}/team/never-pushed`))).toEqual([]);
  });

  test('nextLink reads the next target of a Link header', () => {
    expect(nextLink('</v2/app/tags/list?n=2&last=b2>; rel="next"')).toBe('/v2/app/tags/list?n=2&last=b2');
    expect(nextLink('<https://r.example/a>; rel="prev", <https://r.example/b>; rel=next')).toBe('https://r.example/b');
    expect(nextLink(undefined)).toBeUndefined();
  });
});
