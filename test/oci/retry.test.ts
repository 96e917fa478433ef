import { Readable } from 'node:stream';
import { freePort } from '../../scripts/lib/ports';
import { staticCredentials } from '../../src/oci/auth/credentials';
import { RegistryError } from '../../src/oci/errors';
import {
  type RegistryRequest,
  Transport,
  type TransportOptions,
  type TransportRetryEvent,
} from '../../src/oci/transport';
import { replyError, type ScriptedHandler, type ScriptedServer, startScriptedServer } from '../fakes/scripted-server';

const MANIFEST = '/v2/team/app/manifests/1.0';
let server: ScriptedServer | undefined;
const transports: Transport[] = [];

async function serve(handler: ScriptedHandler): Promise<ScriptedServer> {
  server = await startScriptedServer(handler);
  return server;
}

function transport(options: TransportOptions = {}): Transport {
  const created = new Transport({
    credentials: staticCredentials({}),
    retry: { minDelayMs: 10, maxDelayMs: 50, ...options.retry },
    ...options,
  });
  transports.push(created);
  return created;
}

function getManifest(host: string, extra: Partial<RegistryRequest> = {}): RegistryRequest {
  return {
    method: 'GET',
    registry: host,
    repository: 'team/app',
    path: MANIFEST,
    actions: ['pull'],
    expect: [200],
    ...extra,
  };
}

async function failure(promise: Promise<unknown>): Promise<RegistryError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(RegistryError);
  return error as RegistryError;
}

afterEach(async () => {
  await Promise.all(transports.splice(0).map((created) => created.close()));
  await server?.close();
  server = undefined;
});

test('429 waits for Retry-After seconds', async () => {
  const fake = await serve((request, response) => {
    if (request.url === MANIFEST && request.attempt === 1) {
      replyError(response, 429, 'TOOMANYREQUESTS', 'slow down', { 'retry-after': '1' });
    } else if (request.url === MANIFEST) {
      response.end('{}');
    }
  });

  const response = await transport().request(getManifest(fake.host));
  await response.body.dump();

  const [first, second] = fake.requestsTo(MANIFEST);
  expect(response.status).toBe(200);
  expect(second.receivedAt - first.receivedAt).toBeGreaterThanOrEqual(990);
});

test('429 honours Retry-After as an HTTP date', async () => {
  const fake = await serve((request, response) => {
    if (request.url === MANIFEST && request.attempt === 1) {
      const date = new Date(Date.now() + 2000).toUTCString();
      replyError(response, 429, 'TOOMANYREQUESTS', 'slow down', { 'retry-after': date });
    } else if (request.url === MANIFEST) {
      response.end('{}');
    }
  });

  const response = await transport().request(getManifest(fake.host));
  await response.body.dump();

  const [first, second] = fake.requestsTo(MANIFEST);
  // The date has whole seconds, so the wait lies between one and two seconds.
  expect(second.receivedAt - first.receivedAt).toBeGreaterThanOrEqual(900);
  expect(second.receivedAt - first.receivedAt).toBeLessThan(2500);
});

test('Retry-After is capped by maxRetryAfterMs', async () => {
  const fake = await serve((request, response) => {
    if (request.url === MANIFEST && request.attempt === 1) {
      replyError(response, 503, 'UNAVAILABLE', 'maintenance', { 'retry-after': '3600' });
    } else if (request.url === MANIFEST) {
      response.end('{}');
    }
  });

  const response = await transport({ retry: { maxRetryAfterMs: 300 } }).request(getManifest(fake.host));
  await response.body.dump();

  const [first, second] = fake.requestsTo(MANIFEST);
  expect(second.receivedAt - first.receivedAt).toBeGreaterThanOrEqual(290);
  expect(second.receivedAt - first.receivedAt).toBeLessThan(2000);
});

test('503 twice then success', async () => {
  const retries: TransportRetryEvent[] = [];
  const fake = await serve((request, response) => {
    if (request.url === MANIFEST && request.attempt <= 2) {
      replyError(response, 503, 'UNAVAILABLE', 'try later');
    } else if (request.url === MANIFEST) {
      response.end('{"ok":true}');
    }
  });

  const response = await transport({ onRetry: (event) => retries.push(event) }).request(getManifest(fake.host));

  expect(await response.body.text()).toBe('{"ok":true}');
  expect(fake.requestsTo(MANIFEST)).toHaveLength(3);
  expect(retries.map((event) => [event.attempt, event.reason, event.method, event.url])).toEqual([
    [1, '503', 'GET', `${fake.url}${MANIFEST}`],
    [2, '503', 'GET', `${fake.url}${MANIFEST}`],
  ]);
});

test('401 is not retried', async () => {
  const fake = await serve((request, response) => {
    if (request.url === MANIFEST) {
      replyError(response, 401, 'UNAUTHORIZED', 'authentication required');
    }
  });

  const error = await failure(transport().request(getManifest(fake.host)));

  expect(fake.requestsTo(MANIFEST)).toHaveLength(1);
  expect(error.status).toBe(401);
  expect(error.retryable).toBe(false);
  expect(error.message).toBe(
    `GET manifest ${fake.host}/team/app:1.0: 401 UNAUTHORIZED (authentication required); ` +
      `no credentials for ${fake.host} were found; run 'docker login ${fake.host}', or set DOCKER_CONFIG to the directory of a config.json that has them; retrying will not help`,
  );
});

test('404 is not retried', async () => {
  const fake = await serve((request, response) => {
    if (request.url === MANIFEST) {
      replyError(response, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
    }
  });

  const error = await failure(transport().request(getManifest(fake.host)));

  expect(fake.requestsTo(MANIFEST)).toHaveLength(1);
  expect(error.codes).toEqual(['MANIFEST_UNKNOWN']);
  expect(error.messages).toEqual(['manifest unknown']);
  expect(error.message).toBe(
    `GET manifest ${fake.host}/team/app:1.0: 404 MANIFEST_UNKNOWN (manifest unknown); retrying will not help`,
  );
});

test('connection reset mid-response is retried', async () => {
  const fake = await serve((request, response) => {
    if (request.url === MANIFEST && request.attempt === 1) {
      response.socket?.write('HTTP/1.1 200 OK\r\nContent-Type: application/js');
      response.socket?.destroy();
    } else if (request.url === MANIFEST) {
      response.end('{"ok":true}');
    }
  });

  const response = await transport().request(getManifest(fake.host));

  expect(await response.body.text()).toBe('{"ok":true}');
  expect(fake.requestsTo(MANIFEST)).toHaveLength(2);
});

test('exhausted retries report the attempts', async () => {
  const fake = await serve((request, response) => {
    if (request.url === MANIFEST) {
      replyError(response, 502, 'BAD_GATEWAY', 'upstream failed');
    }
  });

  const error = await failure(transport({ retry: { attempts: 3 } }).request(getManifest(fake.host)));

  expect(fake.requestsTo(MANIFEST)).toHaveLength(3);
  expect(error.attempts).toBe(3);
  expect(error.retryable).toBe(true);
  expect(error.message).toMatch(
    /: 502 BAD_GATEWAY \(upstream failed\); failed after 3 attempts; retrying later may help$/,
  );
});

test('streaming body is sent once', async () => {
  const upload = '/v2/team/app/blobs/uploads/session';
  const fake = await serve((request, response) => {
    if (request.url === upload) {
      replyError(response, 503, 'UNAVAILABLE', 'try later');
    }
  });

  const request = transport().request({
    method: 'PATCH',
    registry: fake.host,
    repository: 'team/app',
    path: upload,
    body: Readable.from([Buffer.from('layer bytes')]),
    actions: ['pull', 'push'],
    expect: [202],
  });
  const error = await failure(request);

  expect(fake.requestsTo(upload).map((seen) => seen.body.toString())).toEqual(['layer bytes']);
  expect(error.retryable).toBe(true);
  expect(error.message).toContain(`PATCH blob upload ${fake.host}/team/app: 503`);
});

test('buffer body is replayed', async () => {
  const fake = await serve((request, response) => {
    if (request.url === MANIFEST && request.attempt === 1) {
      replyError(response, 500, 'UNKNOWN', 'disk hiccup');
    } else if (request.url === MANIFEST) {
      response.writeHead(201).end();
    }
  });

  const response = await transport().request({
    method: 'PUT',
    registry: fake.host,
    repository: 'team/app',
    path: MANIFEST,
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: Buffer.from('{"schemaVersion":2}'),
    actions: ['pull', 'push'],
    expect: [201],
  });
  await response.body.dump();

  expect(fake.requestsTo(MANIFEST).map((seen) => seen.body.toString())).toEqual([
    '{"schemaVersion":2}',
    '{"schemaVersion":2}',
  ]);
});

test('abort ends the wait for Retry-After', async () => {
  const fake = await serve((request, response) => {
    if (request.url === MANIFEST) {
      replyError(response, 429, 'TOOMANYREQUESTS', 'slow down', { 'retry-after': '20' });
    }
  });
  const controller = new AbortController();
  const started = Date.now();

  const request = transport().request(getManifest(fake.host, { signal: controller.signal }));
  setTimeout(() => controller.abort(), 200);

  await expect(request).rejects.toThrow(/abort/i);
  expect(Date.now() - started).toBeLessThan(5000);
  expect(fake.requestsTo(MANIFEST)).toHaveLength(1);
});

test('unreachable registry reports no response', async () => {
  const host = `127.0.0.1:${await freePort()}`;

  const error = await failure(transport({ retry: { attempts: 2 } }).request(getManifest(host)));

  expect(error.status).toBeUndefined();
  expect(error.retryable).toBe(true);
  expect(error.attempts).toBe(2);
  expect(error.message).toMatch(new RegExp(`^GET /v2/ on ${host}: no response \\(ECONNREFUSED`));
});
