/**
 * The Temporal server stopped and started again on the same database file while a release waits for approval.
 * The release, its stages and the pending gate come back from the file. The `promote worker` child keeps running
 * and reconnects, and an approval sent after the restart completes the release.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pushImage } from '../../scripts/lib/images';
import { waitUntil } from '../../scripts/lib/ports';
import { type LocalRegistry, startRegistry } from '../../scripts/lib/registry';
import { type LocalTemporalServer, startTemporalServer } from '../../scripts/lib/temporal-server';
import type { ReleaseStatus } from '../../workflows/messages';
import { tagDigest } from '../helpers/pipelines';
import { promote, promoteEnvironment, promoteJson, type PromoteWorker, startPromoteWorker } from './promote-process';

jest.setTimeout(180_000);

let dir: string;
let server: LocalTemporalServer | undefined;
let registry: LocalRegistry;
let worker: PromoteWorker | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'promote-restart-'));
  registry = await startRegistry();
});

afterAll(async () => {
  await worker?.stop();
  await server?.stop();
  await registry?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function readStatus(env: NodeJS.ProcessEnv, releaseId: string): Promise<ReleaseStatus | undefined> {
  const { run, json } = await promoteJson<ReleaseStatus>(env, 'status', releaseId);
  return run.code === 0 ? json : undefined;
}

test('approval after a server restart completes the release', async () => {
  const dbFile = join(dir, 'temporal.db');
  server = await startTemporalServer({ dbFile });
  const port = server.port;
  const env = promoteEnvironment(server.address);
  const image = await pushImage(
    registry,
    'api/dev',
    { layers: [{ files: [{ path: 'api', content: 'v7' }] }] },
    'latest',
  );
  const pipelineFile = join(dir, 'api.yaml');
  writeFileSync(
    pipelineFile,
    `name: api
stages:
  - name: dev
    repository: ${registry.host}/api/dev
    environmentTag: dev
  - name: staging
    repository: ${registry.host}/api/staging
    environmentTag: staging
  - name: prod
    repository: ${registry.host}/api/prod
    environmentTag: prod
    approval:
      approvers: [alice]
      timeout: 1h
`,
  );
  worker = await startPromoteWorker(env);

  const started = await promoteJson<{ workflowId: string }>(env, 'start', '--pipeline', pipelineFile);
  expect(started.run.code).toBe(0);
  const releaseId = started.json.workflowId;
  let before: ReleaseStatus | undefined;
  await waitUntil(
    'the release to wait for approval',
    async () => {
      before = await readStatus(env, releaseId);
      return before?.state === 'awaiting-approval';
    },
    60_000,
  );

  await server.stop();
  const whileDown = await promote(env, 'status', releaseId);
  expect(whileDown.code).toBe(3);
  expect(whileDown.stderr).toContain(`cannot reach Temporal at 127.0.0.1:${port}`);

  server = await startTemporalServer({ dbFile, port });
  let after: ReleaseStatus | undefined;
  // The first query after the restart waits for the worker to reconnect and replay the workflow.
  await waitUntil(
    'the worker to answer after the restart',
    async () => {
      after = await readStatus(env, releaseId);
      return after !== undefined;
    },
    90_000,
  );
  expect(after).toEqual(before);

  const approval = await promote(env, 'approve', releaseId, '--as', 'alice', '--comment', 'after the restart');
  expect(approval.stderr).toBe('');
  expect(approval.code).toBe(0);
  expect(approval.stdout).toContain('approvals  1 of 1\n');

  const watched = await promote(env, 'status', releaseId, '--watch');
  expect(watched.code).toBe(0);
  expect(watched.stdout).toContain('state     completed\n');
  expect(watched.stdout).toMatch(/^prod +promoted +1\/1 alice /m);
  expect(await tagDigest(registry.url, 'api/staging', 'staging')).toBe(image.digest);
  expect(await tagDigest(registry.url, 'api/prod', 'prod')).toBe(image.digest);
});
