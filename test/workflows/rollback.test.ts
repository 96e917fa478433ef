import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { pushImage } from '../../scripts/lib/images';
import { type LocalRegistry, startRegistry } from '../../scripts/lib/registry';
import type { Pipeline } from '../../src/config/schema';
import { RegistryClient } from '../../src/oci/client';
import {
  approveRelease,
  getStageLedger,
  getStageLock,
  rejectRelease,
  startRelease,
  startRollback,
} from '../../src/temporal/releases';
import {
  type ReleaseStatus,
  releaseStatusQuery,
  type RollbackStatus,
  rollbackStatusQuery,
} from '../../workflows/messages';
import { buildPipeline, tagDigest, writeScript } from '../helpers/pipelines';
import {
  type RunningWorker,
  runWorker,
  startTemporalTestEnvironment,
  type TemporalTestEnvironment,
  waitForRelease,
} from '../helpers/temporal';
import { waitUntil } from '../../scripts/lib/ports';
import { DIGEST_ATTRIBUTE, STAGE_ATTRIBUTE, STATE_ATTRIBUTE } from '../../src/temporal/search-attributes';

const TASK_QUEUE = 'rollback-test';
jest.setTimeout(90_000);

let environment: TemporalTestEnvironment;
let registry: LocalRegistry;
let worker: RunningWorker;
let workDir: string;
const registryClient = new RegistryClient({ credentials: {} });

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'rollback-test-'));
  [environment, registry] = await Promise.all([startTemporalTestEnvironment(), startRegistry()]);
  worker = await runWorker(environment, { taskQueue: TASK_QUEUE, registryOptions: { credentials: {} } });
});

afterAll(async () => {
  await worker?.stop();
  await Promise.all([environment?.stop(), registry?.stop()]);
  rmSync(workDir, { recursive: true, force: true });
});

/** Pushes a new build to the pipeline's dev repository and releases it; approves prod (as alice) when gated. */
async function release(pipeline: Pipeline, seed: string, approveProd = false, approvers = ['alice']): Promise<string> {
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
  if (approveProd) {
    await waitForRelease(environment.client, started.workflowId, (s) => s.state === 'awaiting-approval', 'prod gate');
    for (const person of approvers) {
      await approveRelease(environment.client, started.workflowId, { stage: 'prod', digest: image.digest, person });
    }
  }
  const status = (await environment.client.workflow.getHandle(started.workflowId).result()) as ReleaseStatus;
  expect(status.state).toBe('completed');
  return image.digest;
}

async function rollbackResult(workflowId: string): Promise<RollbackStatus> {
  return (await environment.client.workflow.getHandle(workflowId).result()) as RollbackStatus;
}

test('manual rollback returns prod to its last good digest', async () => {
  const pipeline = buildPipeline('back', registry.host, [
    { name: 'dev' },
    { name: 'prod', approval: { approvers: ['alice', 'bob'] } },
  ]);
  const good = await release(pipeline, 'v1', true);
  const bad = await release(pipeline, 'v2', true);
  expect(await tagDigest(registry.url, 'back/prod', 'prod')).toBe(bad);

  const handle = await startRollback(environment.client, { pipeline, stage: 'prod', requestedBy: 'bob' }, TASK_QUEUE);
  expect(handle.workflowId).toMatch(/^rollback-back-prod-[\w-]+$/);
  let status: RollbackStatus | undefined;
  await waitUntil('the rollback to await approval', async () => {
    status = await handle.query(rollbackStatusQuery);
    return status.state === 'awaiting-approval';
  });
  expect(status!.targetDigest).toBe(good);
  await expect(
    approveRelease(environment.client, handle.workflowId, { stage: 'prod', digest: good, person: 'bob' }),
  ).rejects.toThrow('Workflow Update failed');
  await approveRelease(environment.client, handle.workflowId, { stage: 'prod', digest: good, person: 'alice' });

  const result = await rollbackResult(handle.workflowId);
  expect(result.state).toBe('completed');
  const attributes = (await handle.describe()).typedSearchAttributes;
  expect(attributes.get(STATE_ATTRIBUTE)).toBe('completed');
  expect(attributes.get(DIGEST_ATTRIBUTE)).toBe(good);
  expect(result.previousDigest).toBe(bad);
  expect(await tagDigest(registry.url, 'back/prod', 'prod')).toBe(good);
  const ledger = await getStageLedger(environment.client, 'back', 'prod');
  expect(ledger.map((entry) => entry.kind)).toEqual(['promoted', 'promoted', 'manual-rollback']);
  expect(ledger[2]).toMatchObject({
    digest: good,
    environmentDigest: good,
    previousDigest: bad,
    by: 'bob',
    workflowId: handle.workflowId,
  });
  expect(ledger[2].approvals.map((record) => record.person)).toEqual(['alice']);
});

test('rejected rollback keeps its approvals and the rejection', async () => {
  const pipeline = buildPipeline('veto', registry.host, [
    { name: 'dev' },
    { name: 'prod', approval: { approvers: ['alice', 'bob', 'carol'], required: 2 } },
  ]);
  const good = await release(pipeline, 'v1', true, ['alice', 'bob']);
  await release(pipeline, 'v2', true, ['alice', 'bob']);

  const handle = await startRollback(environment.client, { pipeline, stage: 'prod', requestedBy: 'carol' }, TASK_QUEUE);
  await waitUntil('the rollback to await approval', async () => {
    return (await handle.query(rollbackStatusQuery)).state === 'awaiting-approval';
  });
  await approveRelease(environment.client, handle.workflowId, { stage: 'prod', digest: good, person: 'alice' });
  await rejectRelease(environment.client, handle.workflowId, {
    stage: 'prod',
    digest: good,
    person: 'bob',
    comment: 'dashboards red',
  });

  const result = await rollbackResult(handle.workflowId);
  expect(result.state).toBe('rejected');
  expect(result.approvals.map((record) => [record.person, record.decision, record.comment])).toEqual([
    ['alice', 'approved', undefined],
    ['bob', 'rejected', 'dashboards red'],
  ]);
});

test('rollback to a named digest, and refusals for unknown targets', async () => {
  const pipeline = buildPipeline('named', registry.host, [{ name: 'dev' }, { name: 'test' }]);
  const first = await release(pipeline, 'n1');
  const second = await release(pipeline, 'n2');
  const third = await release(pipeline, 'n3');

  const toFirst = await startRollback(
    environment.client,
    { pipeline, stage: 'test', to: first, requestedBy: 'ops' },
    TASK_QUEUE,
  );
  expect((await rollbackResult(toFirst.workflowId)).state).toBe('completed');
  expect(await tagDigest(registry.url, 'named/test', 'test')).toBe(first);

  const nothingBefore = await startRollback(
    environment.client,
    { pipeline, stage: 'test', requestedBy: 'ops' },
    TASK_QUEUE,
  );
  const refused = await rollbackResult(nothingBefore.workflowId);
  expect(refused.state).toBe('failed');
  expect(refused.failure).toBe(
    `stage test: no promoted digest other than ${first} precedes it in the ledger; name a digest to roll back to`,
  );

  const unknown = `sha256:${'cd'.repeat(32)}`;
  const toUnknown = await startRollback(
    environment.client,
    { pipeline, stage: 'test', to: unknown, requestedBy: 'ops' },
    TASK_QUEUE,
  );
  expect((await rollbackResult(toUnknown.workflowId)).failure).toBe(
    `stage test: digest ${unknown} does not appear in the ledger; pick one that the environment tag has held`,
  );

  const toSource = await startRollback(environment.client, { pipeline, stage: 'dev', requestedBy: 'ops' }, TASK_QUEUE);
  expect((await rollbackResult(toSource.workflowId)).failure).toBe(
    '"dev" is not a target stage of pipeline named; expected one of test',
  );

  const toThird = await startRollback(
    environment.client,
    { pipeline, stage: 'test', to: third, requestedBy: 'ops' },
    TASK_QUEUE,
  );
  expect((await rollbackResult(toThird.workflowId)).state).toBe('completed');
  expect(await tagDigest(registry.url, 'named/test', 'test')).toBe(third);
  const ledger = await getStageLedger(environment.client, 'named', 'test');
  expect(ledger.map((entry) => entry.environmentDigest)).toEqual([first, second, third, first, third]);
});

test('cancelling a release mid-stage moves the stage back', async () => {
  const hook = writeScript(
    workDir,
    'wait-for-ok.sh',
    `for i in $(seq 1 300); do [ -e "${workDir}/ok-$PROMOTE_DIGEST" ] && exit 0; sleep 0.1; done; exit 1`,
  );
  const pipeline = buildPipeline('cancel', registry.host, [
    { name: 'dev' },
    { name: 'test', tags: ['latest'], hooks: [{ name: 'wait', command: [hook] }] },
  ]);
  const before = await pushImage(
    registry,
    'cancel/dev',
    { layers: [{ files: [{ path: 'id', content: 'c1' }] }] },
    'dev',
  );
  writeFileSync(join(workDir, `ok-${before.digest}`), '');
  await release(pipeline, 'c1');

  const image = await pushImage(
    registry,
    'cancel/dev',
    { layers: [{ files: [{ path: 'id', content: 'c2' }] }] },
    'dev',
  );
  const started = await startRelease(
    environment.client,
    { pipeline, source: `${registry.host}/cancel/dev:dev`, startedBy: 'ci', taskQueue: TASK_QUEUE },
    registryClient,
  );
  await waitForRelease(environment.client, started.workflowId, (s) => s.stages[0].state === 'testing', 'hook to run');
  expect(await tagDigest(registry.url, 'cancel/test', 'test')).toBe(image.digest);

  const handle = environment.client.workflow.getHandle(started.workflowId);
  await handle.cancel();
  await expect(handle.result()).rejects.toThrow(WorkflowFailedError);

  const status = await handle.query(releaseStatusQuery);
  expect(status.state).toBe('cancelled');
  expect(status.stages[0].state).toBe('cancelled');
  expect(await tagDigest(registry.url, 'cancel/test', 'test')).toBe(before.digest);
  expect(await tagDigest(registry.url, 'cancel/test', 'latest')).toBe(before.digest);
  const ledger = await getStageLedger(environment.client, 'cancel', 'test');
  expect(ledger.at(-1)).toMatchObject({
    kind: 'rolled-back',
    digest: image.digest,
    environmentDigest: before.digest,
    reason: 'the release was cancelled',
  });
  expect((await getStageLock(environment.client, 'cancel', 'test')).holder).toBeUndefined();
  const description = await handle.describe();
  expect(description.status.name).toBe('CANCELLED');
  expect(description.typedSearchAttributes.get(STATE_ATTRIBUTE)).toBe('cancelled');
  expect(description.typedSearchAttributes.get(STAGE_ATTRIBUTE)).toBe('test');
});
