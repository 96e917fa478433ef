/**
 * `promote status` and `promote list` for releases that Temporal ended from outside (terminated), and for running
 * releases that no worker serves. Runs against a real Temporal dev server, a real registry and a `promote worker`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, type Connection } from '@temporalio/client';
import { pushImage } from '../../scripts/lib/images';
import { type LocalRegistry, startRegistry } from '../../scripts/lib/registry';
import { type LocalTemporalServer, startTemporalServer } from '../../scripts/lib/temporal-server';
import { stageWorkflowId } from '../../src/temporal/ids';
import type { ReleaseStatus } from '../../workflows/messages';
import { connectTemporal, waitForRelease } from '../helpers/temporal';
import {
  promote,
  promoteEnvironment,
  promoteJson,
  type PromoteWorker,
  startPromoteWorker,
  writePipelineFile,
} from './promote-process';

jest.setTimeout(120_000);

let dir: string;
let server: LocalTemporalServer;
let registry: LocalRegistry;
let connection: Connection;
let client: Client;
let env: NodeJS.ProcessEnv;
let pipelineFile: string;
let worker: PromoteWorker | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'promote-closed-'));
  [server, registry] = await Promise.all([startTemporalServer(), startRegistry()]);
  connection = await connectTemporal(server.address);
  client = new Client({ connection });
  env = promoteEnvironment(server.address);
  pipelineFile = writePipelineFile(
    dir,
    'slow.yaml',
    `name: slow
stages:
  - name: dev
    repository: ${registry.host}/slow/dev
    environmentTag: dev
  - name: test
    repository: ${registry.host}/slow/test
    environmentTag: test
    hooks:
      - name: wait
        command: ["sleep", "60"]
        timeout: 2m
`,
  );
});

afterAll(async () => {
  await worker?.stop();
  await connection?.close();
  await Promise.all([server?.stop(), registry?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

async function startBuild(seed: string): Promise<string> {
  await pushImage(registry, 'slow/dev', { layers: [{ files: [{ path: 'id', content: seed }] }] }, 'latest');
  const { run, json } = await promoteJson<{ workflowId: string }>(
    env,
    'start',
    '--pipeline',
    pipelineFile,
    `${registry.host}/slow/dev:latest`,
  );
  expect(run.code).toBe(0);
  return json.workflowId;
}

interface Listed {
  releaseId: string;
  state: string;
}

async function listed(...args: string[]): Promise<Listed[]> {
  const { run, json } = await promoteJson<Listed[]>(env, 'list', '--pipeline', pipelineFile, ...args);
  expect(run.code).toBe(0);
  return json;
}

test('terminated release shows as terminated with and without a worker', async () => {
  worker = await startPromoteWorker(env);
  const id = await startBuild('terminated');
  await waitForRelease(client, id, (status) => status.stages[0].state === 'testing', 'hook to run');
  await client.workflow.getHandle(id).terminate('stopped by the test');

  const withWorker = await promoteJson<ReleaseStatus & { note?: string }>(env, 'status', id);
  expect(withWorker.run.code).toBe(0);
  expect(withWorker.json.state).toBe('terminated');
  expect(withWorker.json.stages[0].name).toBe('test');
  expect(withWorker.json.note).toBeUndefined();

  expect((await listed('--state', 'running')).map((release) => release.releaseId)).not.toContain(id);
  expect(await listed('--state', 'terminated')).toEqual([
    expect.objectContaining({ releaseId: id, state: 'terminated' }),
  ]);
  const table = await promote(env, 'list', '--pipeline', pipelineFile);
  expect(table.stdout).toMatch(new RegExp(`^${id} +release +terminated `, 'm'));

  await worker.stop();
  const text = await promote(env, 'status', id);
  expect(text.code).toBe(0);
  expect(text.stdout).toMatch(/^state +terminated$/m);
  expect(text.stdout).toMatch(/^failure +the workflow was terminated; the last state it recorded was running$/m);
  expect(text.stdout).toContain("built from Temporal's record of the execution because no worker answered");
});

test('running release without a worker exits 3 with one message', async () => {
  const id = await startBuild('no-worker');
  for (const args of [[], ['--json']]) {
    const run = await promote(env, 'status', id, ...args);
    expect(run.code).toBe(3);
    expect(run.stdout + run.stderr).toContain(`no worker answered the status query of ${id}`);
    expect(run.stdout + run.stderr).toContain("start one with 'promote worker'");
  }
  await client.workflow.getHandle(id).terminate('end of test');
});

test('history without a worker exits 3 and names the fix', async () => {
  // The first test's release reached the stage, which started the stage workflow; no worker runs now.
  const stage = await client.workflow.getHandle(stageWorkflowId('slow', 'test')).describe();
  expect(stage.status.name).toBe('RUNNING');

  const run = await promote(env, 'history', '--pipeline', pipelineFile, 'test');

  expect(run.code).toBe(3);
  expect(run.stderr).toContain("'promote worker'");
  expect(run.stderr).not.toContain('Failed to query Workflow');
});

test('rollback without worker exits 3', async () => {
  const run = await promote(env, 'rollback', 'test', '--pipeline', pipelineFile, '--as', 'alice');

  expect(run.code).toBe(3);
  expect(run.stderr).toContain(
    `rollback of slow/test not started: no worker answered the ledger query of ${stageWorkflowId('slow', 'test')}`,
  );
  expect(run.stderr).toContain("start one with 'promote worker'");
  expect(run.stderr).not.toContain('Failed to query Workflow');
});

test('approve without worker names the approval', async () => {
  const id = await startBuild('approve-no-worker');

  const run = await promote(env, 'approve', id, '--as', 'alice');

  expect(run.code).toBe(3);
  expect(run.stderr).toContain(`approval of ${id} not sent: no worker answered the status query of ${id}`);
  expect(run.stderr).toContain('--no-wait');
  await client.workflow.getHandle(id).terminate('end of test');
});
