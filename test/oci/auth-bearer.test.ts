import { mkdtempSync, rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type LocalRegistry } from '../../scripts/lib/registry';
import { type Credential, staticCredentials } from '../../src/oci/auth/credentials';
import { Reference, RegistryClient } from '../../src/oci';
import { AuthenticationError } from '../../src/oci/errors';
import { type RegistryRequest, Transport } from '../../src/oci/transport';
import { seedImage, type SeededImage } from '../fakes/seed-image';
import { type Access, startTokenServer, type TokenServer, type TokenServerOptions } from '../fakes/token-server';

// A real Distribution registry verifies the tokens, which are ES256 JWTs trusted through its JWKS file. Only
// the token server is a fake, so the test can count and shape the tokens it issues.

const SERVICE = 'test-registry';
const options: TokenServerOptions = {
  service: SERVICE,
  issuer: 'test-issuer',
  users: { alice: 'secret' },
  refreshTokens: { 'refresh-alice': 'alice' },
};
let workDir: string;
let tokens: TokenServer;
let registry: LocalRegistry;
let image: SeededImage;
const transports: Transport[] = [];

const ALICE: Credential = { username: 'alice', password: 'secret' };

function transport(credential: Credential = ALICE): Transport {
  const created = new Transport({ credentials: staticCredentials({ [registry.host]: credential }) });
  transports.push(created);
  return created;
}

function headManifest(repository = 'team/app'): RegistryRequest {
  return {
    method: 'HEAD',
    registry: registry.host,
    repository,
    path: `/v2/${repository}/manifests/${image.digest}`,
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    actions: ['pull'],
    expect: [200],
  };
}

async function send(client: Transport, request: RegistryRequest): Promise<number> {
  const response = await client.request(request);
  await response.body.dump();
  return response.status;
}

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'promoter-bearer-'));
  tokens = await startTokenServer(workDir, options);
  registry = await startRegistry({
    tokenAuth: { realm: tokens.realm, service: SERVICE, issuer: options.issuer, jwksPath: tokens.jwksPath },
  });
  const push: Access[] = [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }];
  image = await seedImage(registry.url, 'team/app', '1.0', `Bearer ${tokens.mint(push, 'seed')}`);
});

beforeEach(() => {
  tokens.requests.length = 0;
  options.grant = undefined;
  options.expiresIn = undefined;
});

afterAll(async () => {
  await Promise.all(transports.map((created) => created.close()));
  await registry?.stop();
  await tokens?.close();
  rmSync(workDir, { recursive: true, force: true });
});

test('token request keeps realm query and sends credentials', async () => {
  expect(await send(transport(), headManifest())).toBe(200);

  expect(tokens.requests).toHaveLength(1);
  const [request] = tokens.requests;
  expect(request.method).toBe('GET');
  expect(request.params.get('x')).toBe('1');
  expect(request.params.get('service')).toBe(SERVICE);
  expect(request.params.getAll('scope')).toEqual(['repository:team/app:pull']);
  expect(request.user).toBe('alice');
});

test('token is reused for the same scope set', async () => {
  const client = transport();

  for (let index = 0; index < 3; index += 1) {
    expect(await send(client, headManifest())).toBe(200);
  }

  expect(tokens.requests).toHaveLength(1);
});

test('another scope set gets its own token', async () => {
  const client = transport();

  await send(client, headManifest());
  const pushScoped = { ...headManifest(), actions: ['pull', 'push'] } satisfies RegistryRequest;
  await send(client, pushScoped);
  await send(client, pushScoped);

  expect(tokens.requests.map((request) => request.params.getAll('scope'))).toEqual([
    ['repository:team/app:pull'],
    ['repository:team/app:pull,push'],
  ]);
});

test('expired token is replaced', async () => {
  options.expiresIn = 1;
  const client = transport();

  await send(client, headManifest());
  await send(client, headManifest());
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await send(client, headManifest());

  expect(tokens.requests).toHaveLength(2);
});

test('mount gets pull scope on the source repository', async () => {
  const configDigest = (JSON.parse(image.manifest.toString()) as { config: { digest: string } }).config.digest;

  const status = await send(transport(), {
    method: 'POST',
    registry: registry.host,
    repository: 'team/copy',
    path: '/v2/team/copy/blobs/uploads/',
    query: { mount: configDigest, from: 'team/app' },
    actions: ['pull', 'push'],
    extraPullScopes: ['team/app'],
    expect: [201],
  });

  expect(status).toBe(201);
  expect(tokens.requests[0].params.getAll('scope')).toEqual([
    'repository:team/copy:pull,push',
    'repository:team/app:pull',
  ]);
});

test('copy within registry fetches one token', async () => {
  const client = new RegistryClient({ credentials: staticCredentials({ [registry.host]: ALICE }) });

  try {
    const copied = await client.copy(
      Reference.parse(`${registry.host}/team/app:1.0`),
      Reference.parse(`${registry.host}/team/one-token:1.0`),
    );
    expect(copied.digest).toBe(image.digest);
  } finally {
    await client.close();
  }

  expect(tokens.requests.map((request) => request.params.getAll('scope'))).toEqual([
    ['repository:team/one-token:pull,push', 'repository:team/app:pull'],
  ]);
});

test('cross-registry copy fetches one token each', async () => {
  const other = await startRegistry({
    tokenAuth: { realm: tokens.realm, service: SERVICE, issuer: options.issuer, jwksPath: tokens.jwksPath },
  });
  const client = new RegistryClient({
    credentials: staticCredentials({ [registry.host]: ALICE, [other.host]: ALICE }),
  });

  try {
    await client.copy(Reference.parse(`${registry.host}/team/app:1.0`), Reference.parse(`${other.host}/team/app:1.0`));
  } finally {
    await client.close();
    await other.stop();
  }

  const scopes = tokens.requests.map((request) => request.params.getAll('scope').join(' '));
  expect(scopes.sort()).toEqual(['repository:team/app:pull', 'repository:team/app:pull,push']);
});

test('copy without push access names destination', async () => {
  options.grant = (requested) =>
    requested.map((access) => ({ ...access, actions: access.actions.filter((action) => action !== 'push') }));
  const client = new RegistryClient({ credentials: staticCredentials({ [registry.host]: ALICE }) });

  const error = (await client
    .copy(Reference.parse(`${registry.host}/team/app:1.0`), Reference.parse(`${registry.host}/team/no-push:1.0`))
    .catch((caught: unknown) => caught)
    .finally(() => client.close())) as AuthenticationError;

  expect(error).toBeInstanceOf(AuthenticationError);
  expect(error.status).toBe(401);
  expect(error.message).toContain(`${registry.host}/team/no-push`);
});

test('insufficient scope gets one new token', async () => {
  let issued = 0;
  options.grant = (requested) => (issued++ === 0 ? [] : requested);

  expect(await send(transport(), headManifest())).toBe(200);

  expect(tokens.requests).toHaveLength(2);
});

test('insufficient scope after renewal fails without looping', async () => {
  options.grant = () => [];

  const error = (await transport()
    .request(headManifest())
    .catch((caught: unknown) => caught)) as AuthenticationError;

  expect(error).toBeInstanceOf(AuthenticationError);
  expect(error.status).toBe(401);
  expect(tokens.requests).toHaveLength(2);
});

test('streaming request after insufficient scope is retryable', async () => {
  let issued = 0;
  options.grant = (requested) => (issued++ === 0 ? [] : requested);
  const client = transport();
  const putStreamed = (): RegistryRequest => ({
    method: 'PUT',
    registry: registry.host,
    repository: 'team/app',
    path: '/v2/team/app/manifests/streamed',
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: Readable.from([image.manifest]),
    actions: ['pull', 'push'],
    expect: [201],
  });

  const error = (await client.request(putStreamed()).catch((caught: unknown) => caught)) as AuthenticationError;
  expect(error).toBeInstanceOf(AuthenticationError);
  expect(error.retryable).toBe(true);
  expect(error.message).toContain('the registry rejected the token, which is now renewed; send the request again');

  expect(await send(client, putStreamed())).toBe(201);
  expect(tokens.requests).toHaveLength(2);
});

test('identity token uses the OAuth2 refresh flow', async () => {
  expect(await send(transport({ identityToken: 'refresh-alice' }), headManifest())).toBe(200);

  expect(tokens.requests).toHaveLength(1);
  const [request] = tokens.requests;
  expect(request.method).toBe('POST');
  expect(request.params.get('grant_type')).toBe('refresh_token');
  expect(request.params.get('service')).toBe(SERVICE);
  expect(request.params.get('scope')).toBe('repository:team/app:pull');
  expect(request.params.get('client_id')).toBe('image-promoter');
  expect(request.user).toBe('alice');
});

test('wrong password is reported for the registry', async () => {
  const error = (await transport({ username: 'alice', password: 'wrong' })
    .request(headManifest())
    .catch((caught: unknown) => caught)) as AuthenticationError;

  expect(error).toBeInstanceOf(AuthenticationError);
  const tokenHost = new URL(tokens.realm).host;
  expect(error.message).toBe(
    `GET token for ${registry.host}/team/app from ${tokenHost}: 401 UNAUTHORIZED (invalid username or password); ` +
      `check the credentials for ${registry.host}; retrying will not help`,
  );
  expect(error.url).toBe(
    `http://${tokenHost}/token?x=REDACTED&service=${SERVICE}&scope=repository%3Ateam%2Fapp%3Apull`,
  );
  expect(tokens.requests).toHaveLength(1);
});

test('anonymous client gets a token without credentials', async () => {
  const anonymous = new Transport({ credentials: staticCredentials({}) });
  transports.push(anonymous);

  const error = (await anonymous.request(headManifest()).catch((caught: unknown) => caught)) as AuthenticationError;

  expect(tokens.requests.map((request) => request.authorization)).toEqual([undefined, undefined]);
  expect(error.status).toBe(401);
  expect(error.message).toContain(`no credentials for ${registry.host} were found`);
});
