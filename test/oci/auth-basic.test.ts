import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type LocalRegistry } from '../../scripts/lib/registry';
import { staticCredentials } from '../../src/oci/auth/credentials';
import { AuthenticationError } from '../../src/oci/errors';
import { Transport, type TransportRetryEvent } from '../../src/oci/transport';
import { seedImage, type SeededImage } from '../fakes/seed-image';

const alice = `Basic ${Buffer.from('alice:secret').toString('base64')}`;

let registry: LocalRegistry;
let image: SeededImage;
const transports: Transport[] = [];

function transport(password: string, retries: TransportRetryEvent[] = []): Transport {
  const created = new Transport({
    credentials: staticCredentials({ [registry.host]: { username: 'alice', password } }),
    retry: { minDelayMs: 1, maxDelayMs: 5 },
    onRetry: (event) => retries.push(event),
  });
  transports.push(created);
  return created;
}

beforeAll(async () => {
  registry = await startRegistry({ users: { alice: 'secret' } });
  image = await seedImage(registry.url, 'team/app', '1.0', alice);
});

afterAll(async () => {
  await Promise.all(transports.map((created) => created.close()));
  await registry?.stop();
});

test('authenticated GET /v2/ succeeds', async () => {
  const response = await transport('secret').request({
    method: 'GET',
    registry: registry.host,
    repository: '',
    path: '/v2/',
    actions: [],
    expect: [200],
  });
  await response.body.dump();

  expect(response.status).toBe(200);
});

test('authenticated manifest HEAD returns the digest', async () => {
  const response = await transport('secret').request({
    method: 'HEAD',
    registry: registry.host,
    repository: 'team/app',
    path: '/v2/team/app/manifests/1.0',
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    actions: ['pull'],
    expect: [200],
  });
  await response.body.dump();

  expect(response.headers['docker-content-digest']).toBe(image.digest);
  expect(response.headers['content-length']).toBe(String(image.manifest.length));
});

test('wrong password fails once with a credentials hint', async () => {
  const retries: TransportRetryEvent[] = [];
  const request = transport('wrong', retries).request({
    method: 'HEAD',
    registry: registry.host,
    repository: 'team/app',
    path: `/v2/team/app/manifests/${image.digest}`,
    actions: ['pull'],
    expect: [200],
  });

  const error = (await request.catch((caught: unknown) => caught)) as AuthenticationError;
  expect(error).toBeInstanceOf(AuthenticationError);
  expect(error.status).toBe(401);
  expect(error.registry).toBe(registry.host);
  expect(error.attempts).toBe(1);
  expect(error.retryable).toBe(false);
  expect(error.message).toContain(`HEAD manifest ${registry.host}/team/app@${image.digest.slice(0, 19)}`);
  expect(error.message).toContain(`check the credentials for ${registry.host}`);
  expect(error.message).toMatch(/retrying will not help$/);
  expect(retries).toEqual([]);
});

test('missing credentials name the registry to log in to', async () => {
  const anonymous = new Transport({ credentials: staticCredentials({}) });
  transports.push(anonymous);

  const request = anonymous.request({
    method: 'GET',
    registry: registry.host,
    repository: 'team/app',
    path: '/v2/team/app/tags/list',
    actions: ['pull'],
    expect: [200],
  });

  await expect(request).rejects.toThrow(
    `no credentials for ${registry.host} were found; run 'docker login ${registry.host}'`,
  );
});

test('wrong password on a PUT is not retried', async () => {
  const retries: TransportRetryEvent[] = [];
  const request = transport('wrong', retries).request({
    method: 'PUT',
    registry: registry.host,
    repository: 'team/app',
    path: '/v2/team/app/manifests/2.0',
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: image.manifest,
    actions: ['pull', 'push'],
    expect: [201],
  });

  const error = (await request.catch((caught: unknown) => caught)) as AuthenticationError;
  expect(error.message).toMatch(
    new RegExp(
      `^PUT manifest ${registry.host.replace(/\./g, '\\.')}/team/app:2\\.0: 401 UNAUTHORIZED \\(authentication required\\); check the credentials`,
    ),
  );
  expect(error.codes).toEqual(['UNAUTHORIZED']);
  expect(retries).toEqual([]);
});

describe('with a docker config', () => {
  let configDir: string;
  const originalDockerConfig = process.env.DOCKER_CONFIG;

  beforeEach(() => {
    configDir = mkdtempSync(join(tmpdir(), 'promoter-docker-config-'));
    process.env.DOCKER_CONFIG = configDir;
  });

  afterEach(() => {
    if (originalDockerConfig === undefined) {
      delete process.env.DOCKER_CONFIG;
    } else {
      process.env.DOCKER_CONFIG = originalDockerConfig;
    }
    rmSync(configDir, { recursive: true, force: true });
  });

  function writeAuth(password: string): void {
    const auth = Buffer.from(`alice:${password}`).toString('base64');
    writeFileSync(join(configDir, 'config.json'), JSON.stringify({ auths: { [`http://${registry.host}`]: { auth } } }));
  }

  const listTags = (client: Transport) =>
    client.request({
      method: 'GET',
      registry: registry.host,
      repository: 'team/app',
      path: '/v2/team/app/tags/list',
      actions: ['pull'],
      expect: [200],
    });

  test('its credentials are used by default', async () => {
    writeAuth('secret');
    const client = new Transport();
    transports.push(client);

    const response = await listTags(client);

    expect(await response.body.json()).toEqual({ name: 'team/app', tags: ['1.0'] });
  });

  test('explicit credentials win over it', async () => {
    writeAuth('stale-password');
    const client = new Transport({ credentials: { [registry.host]: { username: 'alice', password: 'secret' } } });
    transports.push(client);

    const response = await listTags(client);
    await response.body.dump();

    expect(response.status).toBe(200);
  });
});
