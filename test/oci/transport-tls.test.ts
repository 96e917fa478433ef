import { execFileSync } from 'node:child_process';
import type { LookupAddress } from 'node:dns';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'undici';
import { staticCredentials } from '../../src/oci/auth/credentials';
import { AuthenticationError, RegistryError } from '../../src/oci/errors';
import { type RegistryRequest, Transport } from '../../src/oci/transport';
import { type ScriptedServer, startScriptedServer } from '../fakes/scripted-server';

// `registry.test` is not a loopback name, so the transport must choose HTTPS for it. A resolver that maps it to
// 127.0.0.1 keeps every connection on this machine.

let dir: string;
let cert: Buffer;
let key: Buffer;
let dispatcher: Agent;
const closers: (() => Promise<void>)[] = [];

type LookupCallback = (error: Error | null, address: string | LookupAddress[], family?: number) => void;

function toLoopback(_hostname: string, options: { all?: boolean }, callback: LookupCallback): void {
  if (options.all) {
    callback(null, [{ address: '127.0.0.1', family: 4 }]);
  } else {
    callback(null, '127.0.0.1', 4);
  }
}

async function startHttpsRegistry(wwwAuthenticate?: string): Promise<{ host: string; paths: string[] }> {
  const paths: string[] = [];
  const server: Server = createServer({ cert, key }, (request, response) => {
    paths.push(request.url ?? '');
    if (wwwAuthenticate) {
      response.writeHead(401, { 'www-authenticate': wwwAuthenticate }).end();
    } else {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return { host: `registry.test:${(server.address() as AddressInfo).port}`, paths };
}

async function startHttpRegistry(): Promise<ScriptedServer> {
  const server = await startScriptedServer(() => undefined);
  closers.push(() => server.close());
  return server;
}

function transport(insecureRegistries: string[] = []): Transport {
  return new Transport({ dispatcher, insecureRegistries, credentials: staticCredentials({}), retry: { attempts: 1 } });
}

function ping(host: string): RegistryRequest {
  return { method: 'GET', registry: host, repository: '', path: '/v2/', actions: [], expect: [200] };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'promoter-tls-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=registry.test',
      '-addext',
      'subjectAltName=DNS:registry.test',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  cert = readFileSync(join(dir, 'cert.pem'));
  key = readFileSync(join(dir, 'key.pem'));
  dispatcher = new Agent({ connect: { ca: cert, lookup: toLoopback } });
});

afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

afterAll(async () => {
  await dispatcher.close();
  rmSync(dir, { recursive: true, force: true });
});

test('registry names are reached over HTTPS', async () => {
  const registry = await startHttpsRegistry();

  const response = await transport().request(ping(registry.host));
  await response.body.dump();

  expect(response.url).toBe(`https://${registry.host}/v2/`);
  expect(registry.paths).toContain('/v2/');
});

test('insecure registry is reached over plain HTTP', async () => {
  const server = await startHttpRegistry();
  const host = `registry.test:${server.port}`;

  const response = await transport([host]).request(ping(host));
  await response.body.dump();

  expect(response.url).toBe(`http://${host}/v2/`);
  expect(server.requestsTo('/v2/').length).toBeGreaterThan(0);
});

test('plain HTTP is not used unless the registry is insecure', async () => {
  const server = await startHttpRegistry();
  const host = `registry.test:${server.port}`;

  const error = await transport()
    .request(ping(host))
    .catch((caught: unknown) => caught);

  expect(error).toBeInstanceOf(RegistryError);
  expect((error as RegistryError).status).toBeUndefined();
  expect(server.requests).toEqual([]);
});

test('HTTPS registry with a plain-HTTP token realm is rejected', async () => {
  const tokenServer = await startHttpRegistry();
  const registry = await startHttpsRegistry(`Bearer realm="${tokenServer.url}/token",service="registry.test"`);
  const client = new Transport({
    dispatcher,
    credentials: staticCredentials({ [registry.host]: { username: 'alice', password: 'secret' } }),
  });

  const error = await client
    .request({ ...ping(registry.host), repository: 'team/app', path: '/v2/team/app/tags/list', actions: ['pull'] })
    .catch((caught: unknown) => caught);

  expect(error).toBeInstanceOf(AuthenticationError);
  expect((error as Error).message).toContain(
    `names the plain-HTTP token realm ${tokenServer.url}; a registry reached over HTTPS must use an https realm`,
  );
  expect(tokenServer.requests).toEqual([]);
});
