/**
 * A `promote worker` killed with SIGKILL in the middle of a copy, and a new worker started: the release must
 * still complete with the source digest in every stage. The target registry sits behind a proxy that counts
 * uploaded bytes, so the kill lands while blob bytes are streaming, and the source is on another registry, so
 * the copy must upload rather than mount. A worker killed in the middle of a tag move is replaced after the
 * move's heartbeat timeout.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, type Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { pushImage } from '../../scripts/lib/images';
import { waitUntil } from '../../scripts/lib/ports';
import { type LocalRegistry, startRegistry } from '../../scripts/lib/registry';
import { type LocalTemporalServer, startTemporalServer } from '../../scripts/lib/temporal-server';
import type { LedgerEntry, ReleaseStatus } from '../../workflows/messages';
import { tagDigest } from '../helpers/pipelines';
import { type RegistryProxy, startRegistryProxy } from '../helpers/registry-proxy';
import { promote, promoteEnvironment, promoteJson, type PromoteWorker, startPromoteWorker } from './promote-process';
import { connectTemporal } from '../helpers/temporal';

jest.setTimeout(240_000);

const LAYER_BYTES = 30 * 1024 * 1024;
const LAYERS = 4;
/** Upload bytes seen by the proxy before the worker is killed: well into the copy, far from its end. */
const KILL_AFTER_BYTES = 8 * 1024 * 1024;
const TEST_UPLOADS = /^\/v2\/app\/test\/blobs\/uploads\//;

let dir: string;
let server: LocalTemporalServer;
let source: LocalRegistry;
let target: LocalRegistry;
let proxy: RegistryProxy;
let connection: Connection;
let env: NodeJS.ProcessEnv;
const workers: PromoteWorker[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'promote-crash-'));
  [server, source, target] = await Promise.all([startTemporalServer(), startRegistry(), startRegistry()]);
  proxy = await startRegistryProxy(target.url);
  connection = await connectTemporal(server.address);
  env = promoteEnvironment(server.address);
});

// A worker left from an earlier test would poll the same task queue and could run the activity meant for a kill.
afterEach(async () => {
  for (const worker of workers.splice(0)) {
    await worker.stop();
  }
});

afterAll(async () => {
  await connection?.close();
  await proxy?.close();
  await Promise.all([server?.stop(), source?.stop(), target?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

test('release survives a worker killed mid-copy', async () => {
  const layers = Array.from({ length: LAYERS }, (_, index) => ({
    randomBytes: LAYER_BYTES,
    path: `data/${index}.bin`,
  }));
  const image = await pushImage(source, 'app/dev', { layers }, 'latest');
  const imageBytes = image.blobs.reduce((sum, blob) => sum + blob.size, 0);
  const pipelineFile = join(dir, 'app.yaml');
  writeFileSync(
    pipelineFile,
    `name: app
stages:
  - name: dev
    repository: ${source.host}/app/dev
    environmentTag: dev
  - name: test
    repository: ${proxy.host}/app/test
    environmentTag: test
  - name: prod
    repository: ${proxy.host}/app/prod
    environmentTag: prod
`,
  );
  const first = await startPromoteWorker(env);
  workers.push(first);

  const started = await promoteJson<{ workflowId: string; digest: string }>(env, 'start', '--pipeline', pipelineFile);
  expect(started.run.code).toBe(0);
  expect(started.json.digest).toBe(image.digest);
  const releaseId = started.json.workflowId;

  await waitUntil(
    'the copy into test to upload blob bytes',
    () => Promise.resolve(proxy.bodyBytes(TEST_UPLOADS) >= KILL_AFTER_BYTES),
    60_000,
  );
  first.process.kill('SIGKILL');
  const killed = await first.exited;
  // Bytes the killed worker had written are still in the socket buffers and reach the proxy for a moment after the
  // exit, so the count is read once it stops growing.
  let bytesBeforeKill = proxy.bodyBytes(TEST_UPLOADS);
  await waitUntil('the proxy to read what the killed worker sent', async () => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const now = proxy.bodyBytes(TEST_UPLOADS);
    const settled = now === bytesBeforeKill;
    bytesBeforeKill = now;
    return settled;
  });

  expect(killed.signal).toBe('SIGKILL');
  expect(bytesBeforeKill).toBeLessThan(imageBytes);
  expect(await tagDigest(target.url, 'app/test', 'test')).toBeUndefined();
  const client = new Client({ connection });
  expect((await client.workflow.getHandle(releaseId).describe()).status.name).toBe('RUNNING');

  const second = await startPromoteWorker(env);
  workers.push(second);
  // The copy activity is retried once its heartbeat timeout shows the first worker dead.
  const watched = await promote(env, 'status', releaseId, '--watch', '--json');
  expect(watched.stderr).toBe('');
  expect(watched.code).toBe(0);

  const lines = watched.stdout.trimEnd().split('\n');
  const final = JSON.parse(lines[lines.length - 1]) as ReleaseStatus;
  expect(final.state).toBe('completed');
  expect(final.digest).toBe(image.digest);
  expect(final.stages.map((stage) => [stage.name, stage.state])).toEqual([
    ['test', 'promoted'],
    ['prod', 'promoted'],
  ]);
  expect(await tagDigest(source.url, 'app/dev', 'latest')).toBe(image.digest);
  expect(await tagDigest(target.url, 'app/test', 'test')).toBe(image.digest);
  expect(await tagDigest(target.url, 'app/prod', 'prod')).toBe(image.digest);
  for (const blob of image.blobs) {
    const response = await fetch(`${target.url}/v2/app/prod/blobs/${blob.digest}`, { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(Number(response.headers.get('content-length'))).toBe(blob.size);
  }

  // Blobs that were complete before the kill are not sent again; a blob cut off is sent again whole.
  const uploaded = proxy.bodyBytes(TEST_UPLOADS);
  expect(uploaded).toBeGreaterThanOrEqual(imageBytes);
  expect(uploaded).toBeLessThan(imageBytes + bytesBeforeKill + 1);

  const ledger = await promoteJson<{ entries: LedgerEntry[] }>(env, 'history', '--pipeline', pipelineFile, 'test');
  expect(ledger.json.entries.map((entry) => [entry.kind, entry.digest, entry.workflowId])).toEqual([
    ['promoted', image.digest, releaseId],
  ]);
});

test('tag move retried after heartbeat timeout', async () => {
  // The target's proxy never responds to the first PUT of the environment tag, so the worker is killed mid-move.
  const stalling = await startRegistryProxy(target.url, {
    stall: { method: 'PUT', path: /^\/v2\/app\/live\/manifests\/live$/, times: 1 },
  });
  try {
    const image = await pushImage(source, 'app/edge', { layers: [{ randomBytes: 1024 }] }, 'latest');
    const pipelineFile = join(dir, 'live.yaml');
    writeFileSync(
      pipelineFile,
      `name: live
stages:
  - name: edge
    repository: ${source.host}/app/edge
    environmentTag: edge
  - name: live
    repository: ${stalling.host}/app/live
    environmentTag: live
`,
    );
    const first = await startPromoteWorker(env);
    workers.push(first);
    const started = await promoteJson<{ workflowId: string }>(env, 'start', '--pipeline', pipelineFile);
    expect(started.run.code).toBe(0);

    await waitUntil('the tag move to reach the registry', () => Promise.resolve(stalling.stalled() === 1), 60_000);
    first.process.kill('SIGKILL');
    await first.exited;
    workers.push(await startPromoteWorker(env));
    const watched = await promote(env, 'status', started.json.workflowId, '--watch', '--json');

    expect(watched.code).toBe(0);
    expect(await tagDigest(target.url, 'app/live', 'live')).toBe(image.digest);
    const history = await new Client({ connection }).workflow.getHandle(started.json.workflowId).fetchHistory();
    const scheduled = new Set(
      (history.events ?? [])
        .filter((event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'moveTag')
        .map((event) => String(event.eventId)),
    );
    const retried = (history.events ?? [])
      .map((event) => event.activityTaskStartedEventAttributes)
      .filter((started) => started && scheduled.has(String(started.scheduledEventId)) && (started.attempt ?? 1) > 1);
    expect(retried).toHaveLength(1);
    expect(retried[0]?.lastFailure?.timeoutFailureInfo?.timeoutType).toBe(
      temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_HEARTBEAT,
    );
  } finally {
    await stalling.close();
  }
});
