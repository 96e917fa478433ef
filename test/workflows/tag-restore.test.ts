import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pushImage } from '../../scripts/lib/images';
import { waitUntil } from '../../scripts/lib/ports';
import { type LocalRegistry, startRegistry } from '../../scripts/lib/registry';
import type { Pipeline } from '../../src/config/schema';
import { RegistryClient } from '../../src/oci/client';
import { getStageLedger, startRelease } from '../../src/temporal/releases';
import type { ReleaseStatus } from '../../workflows/messages';
import { buildPipeline, tagDigest, writeScript } from '../helpers/pipelines';
import {
  type RunningWorker,
  runWorker,
  startTemporalTestEnvironment,
  type TemporalTestEnvironment,
  waitForRelease,
} from '../helpers/temporal';

const TASK_QUEUE = 'tag-restore-test';
jest.setTimeout(120_000);

/** A request that reached the fault proxy, with the time it arrived. */
interface SeenRequest {
  method: string;
  path: string;
  at: number;
  status: number;
}

/**
 * A proxy on 127.0.0.1 in front of the registry that answers the PUTs of one tag with `status` while `failTag` is
 * set, and forwards everything else unchanged.
 */
interface FaultProxy {
  host: string;
  seen: SeenRequest[];
  failTag?: { tag: string; status: number };
  close(): Promise<void>;
}

async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const proxy: FaultProxy = { host: '', seen: [], close: () => Promise.resolve() };
  const server: Server = createServer((incoming, outgoing) => {
    const path = incoming.url ?? '';
    const record: SeenRequest = { method: incoming.method ?? '', path, at: Date.now(), status: 0 };
    proxy.seen.push(record);
    const fault = proxy.failTag;
    if (fault && incoming.method === 'PUT' && path.endsWith(`/manifests/${fault.tag}`)) {
      incoming.resume();
      record.status = fault.status;
      outgoing.writeHead(fault.status, { 'content-type': 'application/json' });
      outgoing.end(JSON.stringify({ errors: [{ code: 'UNKNOWN', message: 'injected by the test proxy' }] }));
      return;
    }
    const forwarded = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: incoming.method, path, headers: incoming.headers },
      (response) => {
        record.status = response.statusCode ?? 502;
        outgoing.writeHead(record.status, response.headers);
        response.pipe(outgoing);
      },
    );
    forwarded.on('error', () => outgoing.destroy());
    incoming.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () => new Promise((resolve) => server.close(() => resolve()));
  return proxy;
}

let environment: TemporalTestEnvironment;
let registry: LocalRegistry;
let proxy: FaultProxy;
let worker: RunningWorker;
let workDir: string;
const registryClient = new RegistryClient({ credentials: {} });

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'tag-restore-test-'));
  [environment, registry] = await Promise.all([startTemporalTestEnvironment(), startRegistry()]);
  proxy = await startFaultProxy(registry.url);
  worker = await runWorker(environment, { taskQueue: TASK_QUEUE, registryOptions: { credentials: {} } });
});

afterAll(async () => {
  await worker?.stop();
  await proxy?.close();
  await Promise.all([environment?.stop(), registry?.stop()]);
  rmSync(workDir, { recursive: true, force: true });
});

/** A pipeline whose `test` stage sits behind the fault proxy and moves the extra tag `extra` too. */
function pipelineBehindProxy(name: string, hooks: { name: string; command: string[] }[] = []): Pipeline {
  return buildPipeline(name, registry.host, [
    { name: 'dev' },
    { name: 'test', registry: proxy.host, tags: ['extra'], hooks },
  ]);
}

async function startBuild(pipeline: Pipeline, seed: string): Promise<{ digest: string; workflowId: string }> {
  const image = await pushImage(
    registry,
    `${pipeline.name}/dev`,
    { layers: [{ files: [{ path: 'id', content: seed }] }] },
    'dev',
  );
  const started = await startRelease(
    environment.client,
    { pipeline, source: `${registry.host}/${pipeline.name}/dev:dev`, startedBy: 'ci', taskQueue: TASK_QUEUE },
    registryClient,
  );
  return { digest: image.digest, workflowId: started.workflowId };
}

async function resultOf(workflowId: string): Promise<ReleaseStatus> {
  return (await environment.client.workflow.getHandle(workflowId).result()) as ReleaseStatus;
}

function putsOf(tag: string, since: number): SeenRequest[] {
  return proxy.seen.filter(
    (seen) => seen.method === 'PUT' && seen.path.endsWith(`/manifests/${tag}`) && seen.at >= since,
  );
}

test('extra tag whose move failed is not put back', async () => {
  const pipeline = pipelineBehindProxy('unmoved');
  const first = await startBuild(pipeline, 'u1');
  expect((await resultOf(first.workflowId)).state).toBe('completed');

  const faultFrom = Date.now();
  proxy.failTag = { tag: 'extra', status: 403 };
  const second = await startBuild(pipeline, 'u2');
  const status = await resultOf(second.workflowId);
  proxy.failTag = undefined;

  expect(status.state).toBe('failed');
  expect(status.stages[0].state).toBe('rolled-back');
  expect(status.stages[0].tagsMoved).toEqual(['test']);
  expect(await tagDigest(registry.url, 'unmoved/test', 'test')).toBe(first.digest);
  expect(await tagDigest(registry.url, 'unmoved/test', 'extra')).toBe(first.digest);
  // The one refused PUT of the forward move; the rollback read the tag, saw it unchanged and left it alone.
  expect(putsOf('extra', faultFrom)).toHaveLength(1);
  const ledger = await getStageLedger(environment.client, 'unmoved', 'test');
  expect(ledger.at(-1)).toMatchObject({ kind: 'rolled-back', digest: second.digest, environmentDigest: first.digest });
});

test('failing restore of an extra tag does not hold back the environment tag', async () => {
  const hook = writeScript(
    workDir,
    'decide.sh',
    `for i in $(seq 1 600); do
  [ -e "${workDir}/pass-$PROMOTE_DIGEST" ] && exit 0
  [ -e "${workDir}/fail-$PROMOTE_DIGEST" ] && exit 1
  sleep 0.1
done
exit 1`,
  );
  const pipeline = pipelineBehindProxy('hostage', [{ name: 'decide', command: [hook] }]);
  const first = await startBuild(pipeline, 'h1');
  writeFileSync(join(workDir, `pass-${first.digest}`), '');
  expect((await resultOf(first.workflowId)).state).toBe('completed');

  const second = await startBuild(pipeline, 'h2');
  await waitForRelease(environment.client, second.workflowId, (s) => s.stages[0].state === 'testing', 'hook to run');
  expect(await tagDigest(registry.url, 'hostage/test', 'extra')).toBe(second.digest);

  proxy.failTag = { tag: 'extra', status: 500 };
  const failedAt = Date.now();
  writeFileSync(join(workDir, `fail-${second.digest}`), '');

  await waitUntil(
    'the environment tag to be back on the previous digest',
    async () => (await tagDigest(registry.url, 'hostage/test', 'test')) === first.digest,
    15_000,
  );
  const restoredAfterMs = Date.now() - failedAt;
  // The extra tag's restore is still being retried against the failing registry.
  await waitUntil('a refused restore of the extra tag', () =>
    Promise.resolve(putsOf('extra', failedAt).some((seen) => seen.status === 500)),
  );
  expect(await tagDigest(registry.url, 'hostage/test', 'extra')).toBe(second.digest);
  expect(restoredAfterMs).toBeLessThan(15_000);

  proxy.failTag = undefined;
  const status = await resultOf(second.workflowId);
  expect(status.state).toBe('failed');
  expect(status.stages[0].state).toBe('rolled-back');
  expect(await tagDigest(registry.url, 'hostage/test', 'extra')).toBe(first.digest);
  expect(await tagDigest(registry.url, 'hostage/test', 'test')).toBe(first.digest);
});
