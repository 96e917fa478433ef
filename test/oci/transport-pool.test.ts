import { staticCredentials } from '../../src/oci/auth/credentials';
import { CONNECTIONS_PER_ORIGIN, Transport } from '../../src/oci/transport';
import { type ScriptedServer, startScriptedServer } from '../fakes/scripted-server';

let server: ScriptedServer;
let transport: Transport;

beforeEach(async () => {
  server = await startScriptedServer(async (request, response) => {
    if (request.url.startsWith('/v2/team/app/blobs/')) {
      // A short delay keeps requests in flight together, as parallel blob streams are.
      await new Promise((resolve) => setTimeout(resolve, 5));
      response.end('blob');
    }
  });
  transport = new Transport({ credentials: staticCredentials({}) });
});

afterEach(async () => {
  await transport.close();
  await server.close();
});

async function getBlobs(count: number, parallel: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next += 1;
      const response = await transport.request({
        method: 'GET',
        registry: server.host,
        repository: 'team/app',
        path: `/v2/team/app/blobs/sha256:${String(next).padStart(64, '0')}`,
        actions: ['pull'],
        expect: [200],
      });
      await response.body.text();
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

test('connections are kept alive and reused', async () => {
  await getBlobs(200, 8);

  // undici may open a new connection while a finished one is not yet marked free, so the bound is the pool size,
  // plus one for the ping to /v2/ that can open its own before the workers start.
  expect(server.requests.filter((request) => request.url.startsWith('/v2/team/'))).toHaveLength(200);
  expect(server.connections).toBeLessThanOrEqual(CONNECTIONS_PER_ORIGIN + 1);
});

test('registry challenge is learned once per transport', async () => {
  await getBlobs(20, 4);

  expect(server.requestsTo('/v2/')).toHaveLength(1);
});
