import { RegistryError } from '../../src/oci/errors';
import { type RegistryRequest, Transport } from '../../src/oci/transport';
import { type ScriptedServer, startScriptedServer } from '../fakes/scripted-server';

// The registry fake requires Basic auth, so every request to it carries credentials that a redirect must not
// carry to another host.

const BLOB = '/v2/team/app/blobs/sha256:' + 'ab'.repeat(32);
const alice = `Basic ${Buffer.from('alice:secret').toString('base64')}`;
let servers: ScriptedServer[] = [];
let transport: Transport;

async function startStorage(hostName: string): Promise<ScriptedServer> {
  const storage = await startScriptedServer((_request, response) => {
    response.end('blob bytes');
  }, hostName);
  servers.push(storage);
  return storage;
}

async function startRegistryRedirectingTo(location: () => string): Promise<ScriptedServer> {
  const registry = await startScriptedServer((request, response) => {
    if (request.headers.authorization !== alice) {
      response.writeHead(401, { 'www-authenticate': 'Basic realm="fake"' }).end();
    } else if (request.url === BLOB) {
      response.writeHead(307, { location: location() }).end();
    } else if (request.url.startsWith('/storage/')) {
      response.end('blob bytes');
    }
  });
  servers.push(registry);
  return registry;
}

function getBlob(registry: ScriptedServer, method: RegistryRequest['method'] = 'GET'): RegistryRequest {
  return { method, registry: registry.host, repository: 'team/app', path: BLOB, actions: ['pull'], expect: [200] };
}

beforeEach(() => {
  transport = new Transport({
    credentials: { lookup: () => Promise.resolve({ username: 'alice', password: 'secret' }) },
  });
});

afterEach(async () => {
  await transport.close();
  await Promise.all(servers.map((server) => server.close()));
  servers = [];
});

test('redirect to another host drops Authorization', async () => {
  const storage = await startStorage('localhost');
  const registry = await startRegistryRedirectingTo(() => `${storage.url}/bucket/blob?X-Amz-Signature=secret`);

  const response = await transport.request(getBlob(registry));

  expect(await response.body.text()).toBe('blob bytes');
  expect(response.url).toBe(`${storage.url}/bucket/blob?X-Amz-Signature=secret`);
  expect(registry.requestsTo(BLOB)[0].headers.authorization).toBe(alice);
  expect(storage.requestsTo('/bucket/blob')[0].headers.authorization).toBeUndefined();
});

test('redirect to another port drops Authorization', async () => {
  const storage = await startStorage('127.0.0.1');
  const registry = await startRegistryRedirectingTo(() => `${storage.url}/bucket/blob`);

  const response = await transport.request(getBlob(registry));
  await response.body.dump();

  expect(storage.requestsTo('/bucket/blob')[0].headers.authorization).toBeUndefined();
});

test('redirect on the same host keeps Authorization', async () => {
  const registry = await startRegistryRedirectingTo(() => '/storage/blob');

  const response = await transport.request(getBlob(registry));

  expect(await response.body.text()).toBe('blob bytes');
  expect(registry.requestsTo('/storage/blob')[0].headers.authorization).toBe(alice);
});

test('HEAD follows redirects too', async () => {
  const storage = await startStorage('localhost');
  const registry = await startRegistryRedirectingTo(() => `${storage.url}/bucket/blob`);

  const response = await transport.request(getBlob(registry, 'HEAD'));
  await response.body.dump();

  expect(storage.requestsTo('/bucket/blob').map((request) => [request.method, request.headers.authorization])).toEqual([
    ['HEAD', undefined],
  ]);
});

test('redirect of a PUT is returned, not followed', async () => {
  const storage = await startStorage('localhost');
  const registry = await startRegistryRedirectingTo(() => `${storage.url}/bucket/blob`);

  const request = transport.request({ ...getBlob(registry, 'PUT'), body: Buffer.from('x'), actions: ['pull', 'push'] });

  await expect(request).rejects.toThrow(`PUT blob ${registry.host}/team/app@sha256:abababababab…: 307`);
  expect(storage.requests).toEqual([]);
});

test('redirect loop fails with the redirect count', async () => {
  const registry = await startRegistryRedirectingTo(() => BLOB);

  const error = (await transport.request(getBlob(registry)).catch((caught: unknown) => caught)) as RegistryError;

  expect(error).toBeInstanceOf(RegistryError);
  expect(error.message).toContain('no response (ERR_REDIRECT: more than 10 redirects');
  expect(error.retryable).toBe(false);
});

test('error after a redirect shows the redacted URL', async () => {
  const storage = await startScriptedServer((_request, response) => {
    response.writeHead(403).end('<Error>AccessDenied</Error>');
  }, 'localhost');
  servers.push(storage);
  const registry = await startRegistryRedirectingTo(
    () => `http://user:pw@${storage.host}/bucket/blob?X-Amz-Signature=secret`,
  );

  const error = (await transport.request(getBlob(registry)).catch((caught: unknown) => caught)) as RegistryError;

  expect(error.status).toBe(403);
  expect(error.url).toBe(`${storage.url}/bucket/blob?X-Amz-Signature=REDACTED`);
  expect(error.message).toBe(
    `GET blob ${registry.host}/team/app@sha256:abababababab…: 403; ` +
      `the registry redirected the request to ${storage.host}; retrying will not help`,
  );
  expect(error.message).not.toContain('secret');
});

test('absolute URL on another host gets no Authorization', async () => {
  const storage = await startStorage('localhost');
  const registry = await startRegistryRedirectingTo(() => '/unused');

  const response = await transport.request({
    method: 'PUT',
    registry: registry.host,
    repository: 'team/app',
    path: `${storage.url}/uploads/session-1?_state=abc`,
    query: { digest: 'sha256:' + 'cd'.repeat(32) },
    body: Buffer.from('blob'),
    actions: ['pull', 'push'],
    expect: [200],
  });
  await response.body.dump();

  const [upload] = storage.requestsTo('/uploads/session-1');
  expect(upload.url).toBe(`/uploads/session-1?_state=abc&digest=sha256%3A${'cd'.repeat(32)}`);
  expect(upload.headers.authorization).toBeUndefined();
});
