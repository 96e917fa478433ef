import { Client, type Connection } from '@temporalio/client';
import { pushImage, pushManifest } from '../../scripts/lib/images';
import { freePort, waitUntil } from '../../scripts/lib/ports';
import { type LocalRegistry, startRegistry } from '../../scripts/lib/registry';
import { type LocalTemporalServer, startTemporalServer } from '../../scripts/lib/temporal-server';
import { parsePipelineYaml } from '../../src/config/load';
import type { Pipeline } from '../../src/config/schema';
import { RegistryClient } from '../../src/oci/client';
import type { LogFields, Logger } from '../../src/serve/log';
import { NOTIFICATIONS_PATH, type NotificationServer, startNotificationServer } from '../../src/serve/server';
import { releaseStarter } from '../../activities/policy';
import { countReleases } from './release-starter';
import { connectTemporal } from '../helpers/temporal';

const SECRET = 'notify-secret-for-tests';
const EVENTS_TYPE = 'application/vnd.docker.distribution.events.v2+json';

let temporal: LocalTemporalServer;
let connection: Connection;
let client: Client;
let registry: LocalRegistry;
let serve: NotificationServer;
let pipeline: Pipeline;
const registryClient = new RegistryClient();
const logged: { level: string; message: string; fields: LogFields }[] = [];

const logger: Logger = {
  info: (message, fields = {}) => logged.push({ level: 'info', message, fields }),
  warn: (message, fields = {}) => logged.push({ level: 'warn', message, fields }),
  error: (message, fields = {}) => logged.push({ level: 'error', message, fields }),
};

async function releasesOf(digest: string): Promise<number> {
  return countReleases(client, 'web', digest);
}

function handledPushes(tag: string): { message: string; fields: LogFields }[] {
  return logged.filter((entry) => entry.fields.tag === tag && entry.fields.pipeline === 'web');
}

beforeAll(async () => {
  temporal = await startTemporalServer();
  connection = await connectTemporal(temporal.address);
  client = new Client({ connection });

  const registryPort = await freePort();
  pipeline = parsePipelineYaml(`
name: web
stages:
  - name: dev
    repository: 127.0.0.1:${registryPort}/dev/web
    environmentTag: dev
  - name: prod
    repository: 127.0.0.1:${registryPort}/prod/web
    environmentTag: prod
triggers:
  - tag: { matches: '^v[0-9]+\\.[0-9]+\\.[0-9]+$' }
`);
  serve = await startNotificationServer({
    host: '127.0.0.1',
    port: 0,
    pipelines: [pipeline],
    secret: SECRET,
    logger,
    push: { registry: registryClient, startRelease: releaseStarter(client, registryClient, 'policy-serve-test') },
  });
  registry = await startRegistry({
    port: registryPort,
    notifications: [
      { name: 'promote', url: `${serve.url}${NOTIFICATIONS_PATH}`, headers: { Authorization: [SECRET] } },
    ],
  });
}, 60_000);

afterAll(async () => {
  await registry?.stop();
  await serve?.close();
  await registryClient.close();
  await connection?.close();
  await temporal?.stop();
});

describe('registry notifications', () => {
  it('starts one release for a matching push', async () => {
    const image = await pushImage(
      registry,
      'dev/web',
      { layers: [{ files: [{ path: 'a', content: '1' }] }] },
      'v1.2.3',
    );
    await pushManifest(registry, 'dev/web', image.bytes, image.mediaType, 'latest');
    await waitUntil('both pushes handled', () =>
      Promise.resolve(handledPushes('v1.2.3').length + handledPushes('latest').length >= 2),
    );

    expect(handledPushes('v1.2.3').map((entry) => entry.message)).toEqual(['release started']);
    expect(handledPushes('latest').map((entry) => entry.message)).toEqual(['push did not start a release']);
    await waitUntil('release visible', async () => (await releasesOf(image.digest)) > 0);
    expect(await releasesOf(image.digest)).toBe(1);
  });

  it('starts nothing for a tag no trigger matches', async () => {
    const image = await pushImage(registry, 'dev/web', { layers: [{ files: [{ path: 'b', content: '2' }] }] }, 'dev-7');
    await waitUntil('push handled', () => Promise.resolve(handledPushes('dev-7').length >= 1));

    expect(handledPushes('dev-7')[0].message).toBe('push did not start a release');
    expect(await releasesOf(image.digest)).toBe(0);
  });

  it('attaches a second matching tag to the running release', async () => {
    const image = await pushImage(
      registry,
      'dev/web',
      { layers: [{ files: [{ path: 'c', content: '3' }] }] },
      'v2.0.0',
    );
    await pushManifest(registry, 'dev/web', image.bytes, image.mediaType, 'v2.0.1');
    await waitUntil('both pushes handled', () => Promise.resolve(handledPushes('v2.0.1').length >= 1));

    expect(handledPushes('v2.0.0').map((entry) => entry.message)).toEqual(['release started']);
    expect(handledPushes('v2.0.1').map((entry) => entry.message)).toEqual(['release already running']);
    await waitUntil('release visible', async () => (await releasesOf(image.digest)) > 0);
    expect(await releasesOf(image.digest)).toBe(1);
  });

  it('ignores pushes to other repositories', async () => {
    await pushImage(registry, 'other/web', { layers: [{ files: [{ path: 'd', content: '4' }] }] }, 'v3.0.0');
    // The registry sends events in order, so once a later push to dev/web is handled the earlier one was too.
    await pushImage(registry, 'dev/web', { layers: [{ files: [{ path: 'e', content: '5' }] }] }, 'dev-8');
    await waitUntil('marker push handled', () => Promise.resolve(handledPushes('dev-8').length >= 1));

    expect(handledPushes('v3.0.0')).toEqual([]);
  });
});

describe('notification endpoint', () => {
  let digest: string;
  let body: string;

  beforeAll(async () => {
    // Pushed without a tag, so the registry's own notification matches no trigger. The notifications below name a
    // tag that was never pushed, which a release accepts, as it must for a notification that arrives before its tag.
    const image = await pushImage(registry, 'dev/web', { layers: [{ files: [{ path: 'g', content: '6' }] }] });
    digest = image.digest;
    body = JSON.stringify({
      events: [
        {
          id: 'e1',
          action: 'push',
          target: { mediaType: image.mediaType, digest, repository: 'dev/web', tag: 'v9.9.9' },
        },
      ],
    });
  });

  async function post(headers: Record<string, string>, text?: string): Promise<{ status: number; json: unknown }> {
    const response = await fetch(`${serve.url}${NOTIFICATIONS_PATH}`, { method: 'POST', headers, body: text ?? body });
    return { status: response.status, json: await response.json() };
  }

  it('rejects a missing secret with 401', async () => {
    const { status, json } = await post({ 'content-type': EVENTS_TYPE });
    expect(status).toBe(401);
    expect(json).toEqual({ error: 'missing or wrong secret in the authorization header' });
    expect(await releasesOf(digest)).toBe(0);
  });

  it('rejects a wrong secret with 401', async () => {
    const { status } = await post({ 'content-type': EVENTS_TYPE, authorization: `Bearer ${SECRET}x` });
    expect(status).toBe(401);
    expect(await releasesOf(digest)).toBe(0);
  });

  it('rejects a malformed body with 400', async () => {
    const malformed = JSON.stringify({
      events: [{ action: 'push', target: { repository: 'dev/web', digest: 'sha256:1' } }],
    });
    const { status, json } = await post({ 'content-type': EVENTS_TYPE, authorization: SECRET }, malformed);
    expect(status).toBe(400);
    expect(json).toEqual({
      error: 'invalid notification',
      problems: ['events[0].target.digest: expected a digest, sha256:<64 lowercase hex>'],
    });
  });

  it('rejects a body that is not JSON with 400', async () => {
    const { status, json } = await post({ 'content-type': EVENTS_TYPE, authorization: SECRET }, '{"events": [');
    expect(status).toBe(400);
    expect((json as { problems: string[] }).problems[0]).toMatch(/^body is not JSON: /);
  });

  it('rejects another content type with 415', async () => {
    const { status } = await post({ 'content-type': 'text/plain', authorization: SECRET });
    expect(status).toBe(415);
  });

  it('accepts the secret as a bearer token', async () => {
    const { status, json } = await post({ 'content-type': EVENTS_TYPE, authorization: `Bearer ${SECRET}` });
    expect(status).toBe(200);
    expect(json).toMatchObject({ decisions: [{ pipeline: 'web', digest, tag: 'v9.9.9', started: true }] });
  });

  it('answers 200 for a manifest that no longer exists', async () => {
    const missing = `sha256:${'d'.repeat(64)}`;
    const gone = JSON.stringify({
      events: [{ action: 'push', target: { digest: missing, repository: 'dev/web', tag: 'v9.9.8' } }],
    });
    const { status, json } = await post({ 'content-type': EVENTS_TYPE, authorization: SECRET }, gone);
    expect(status).toBe(200);
    expect(json).toMatchObject({ decisions: [{ digest: missing, retryable: false }] });
    expect(await releasesOf(missing)).toBe(0);
  });

  it('starts nothing for a push whose tag moved on', async () => {
    const older = await pushImage(registry, 'dev/web', { layers: [{ files: [{ path: 'o', content: '1' }] }] });
    await pushImage(registry, 'dev/web', { layers: [{ files: [{ path: 'n', content: '2' }] }] }, 'v3.1.0');
    // The notification of a push of the older image under the tag, arriving after the newer push.
    const late = JSON.stringify({
      events: [{ action: 'push', target: { digest: older.digest, repository: 'dev/web', tag: 'v3.1.0' } }],
    });

    const { status, json } = await post({ 'content-type': EVENTS_TYPE, authorization: SECRET }, late);

    expect(status).toBe(200);
    expect(json).toMatchObject({
      decisions: [
        {
          digest: older.digest,
          started: false,
          note: 'the tag points at another digest now, so this push starts no release',
        },
      ],
    });
    expect(await releasesOf(older.digest)).toBe(0);
  });

  it('starts one release for a repeated notification', async () => {
    const first = await post({ 'content-type': EVENTS_TYPE, authorization: SECRET });
    const second = await post({ 'content-type': EVENTS_TYPE, authorization: SECRET });
    expect(first.status).toBe(200);
    expect(second.json).toMatchObject({ decisions: [{ started: true, existing: true }] });
    await waitUntil('release visible', async () => (await releasesOf(digest)) > 0);
    expect(await releasesOf(digest)).toBe(1);
  });
});
