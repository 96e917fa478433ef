import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pushImage } from '../../scripts/lib/images';
import { waitUntil } from '../../scripts/lib/ports';
import { type LocalRegistry, startRegistry } from '../../scripts/lib/registry';
import { RegistryClient } from '../../src/oci/client';
import { STAGE_WORKFLOW_TYPE } from '../../src/temporal/constants';
import { stageWorkflowId } from '../../src/temporal/ids';
import { approveRelease, getStageLedger, getStageLock, startRelease } from '../../src/temporal/releases';
import type { ReleaseStatus, StageInput } from '../../workflows/messages';
import { buildPipeline, tagDigest, writeScript } from '../helpers/pipelines';
import {
  type RunningWorker,
  runWorker,
  startTemporalTestEnvironment,
  type TemporalTestEnvironment,
  waitForRelease,
} from '../helpers/temporal';

const TASK_QUEUE = 'stage-lock-test';
jest.setTimeout(90_000);

let environment: TemporalTestEnvironment;
let registry: LocalRegistry;
let worker: RunningWorker;
let workDir: string;
const registryClient = new RegistryClient({ credentials: {} });

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'stage-lock-test-'));
  [environment, registry] = await Promise.all([startTemporalTestEnvironment(), startRegistry()]);
  worker = await runWorker(environment, { taskQueue: TASK_QUEUE, registryOptions: { credentials: {} } });
});

afterAll(async () => {
  await worker?.stop();
  await Promise.all([environment?.stop(), registry?.stop()]);
  rmSync(workDir, { recursive: true, force: true });
});

async function pushSource(pipeline: string, seed: string): Promise<string> {
  const image = await pushImage(
    registry,
    `${pipeline}/dev`,
    { layers: [{ files: [{ path: 'id', content: seed }] }] },
    'dev',
  );
  return image.digest;
}

function start(pipeline: ReturnType<typeof buildPipeline>) {
  return startRelease(
    environment.client,
    { pipeline, source: `${registry.host}/${pipeline.name}/dev:dev`, startedBy: 'ci', taskQueue: TASK_QUEUE },
    registryClient,
  );
}

/** A hook that waits until `path` exists, so a test decides when a stage's lock is given back. */
function barrierHook(name: string, path: string) {
  const script = writeScript(
    workDir,
    `${name}.sh`,
    `for i in $(seq 1 300); do [ -e "${path}" ] && exit 0; sleep 0.1; done; echo "barrier never appeared"; exit 1`,
  );
  return { name, command: [script] };
}

test('racing releases are serialised and the older one is superseded', async () => {
  const barrier = join(workDir, 'race-barrier');
  const pipeline = buildPipeline('race', registry.host, [
    { name: 'dev' },
    { name: 'test' },
    { name: 'prod', approval: { approvers: ['alice'] }, hooks: [barrierHook('race-hold', barrier)] },
  ]);
  const older = await pushSource('race', 'older');
  const olderRelease = await start(pipeline);
  await waitForRelease(environment.client, olderRelease.workflowId, (s) => s.state === 'awaiting-approval', 'older');
  const newer = await pushSource('race', 'newer');
  const newerRelease = await start(pipeline);
  await waitForRelease(environment.client, newerRelease.workflowId, (s) => s.state === 'awaiting-approval', 'newer');

  await approveRelease(environment.client, newerRelease.workflowId, { stage: 'prod', digest: newer, person: 'alice' });
  await waitForRelease(environment.client, newerRelease.workflowId, (s) => s.stages[1].state === 'testing', 'hold');
  await approveRelease(environment.client, olderRelease.workflowId, { stage: 'prod', digest: older, person: 'alice' });
  const queued = await waitForRelease(
    environment.client,
    olderRelease.workflowId,
    (s) => s.stages[1].state === 'waiting-for-lock',
    'the older release to queue',
  );
  expect(queued.currentStep).toBe('waiting for the lock of prod');
  await waitUntil('the older release in the queue', async () => {
    const lock = await getStageLock(environment.client, 'race', 'prod');
    return lock.queue.length === 1;
  });
  const lock = await getStageLock(environment.client, 'race', 'prod');
  expect(lock.holder?.workflowId).toBe(newerRelease.workflowId);
  expect(lock.queue.map((request) => request.workflowId)).toEqual([olderRelease.workflowId]);
  expect(await tagDigest(registry.url, 'race/prod', 'prod')).toBe(newer);

  writeFileSync(barrier, '');
  const newerStatus = (await environment.client.workflow.getHandle(newerRelease.workflowId).result()) as ReleaseStatus;
  const olderStatus = (await environment.client.workflow.getHandle(olderRelease.workflowId).result()) as ReleaseStatus;

  expect(newerStatus.state).toBe('completed');
  expect(olderStatus.state).toBe('superseded');
  expect(olderStatus.failure).toBe(
    `stage prod already holds ${newer} from ${newerRelease.workflowId}, a release started later`,
  );
  expect(olderStatus.stages[1].state).toBe('superseded');
  expect(olderStatus.stages[1].tagsMoved).toEqual([]);
  expect(await tagDigest(registry.url, 'race/prod', 'prod')).toBe(newer);
  const prodLedger = await getStageLedger(environment.client, 'race', 'prod');
  expect(prodLedger.map((entry) => [entry.kind, entry.digest])).toEqual([['promoted', newer]]);
  const testLedger = await getStageLedger(environment.client, 'race', 'test');
  expect(testLedger.map((entry) => entry.digest)).toEqual([older, newer]);
  const after = await getStageLock(environment.client, 'race', 'prod');
  expect(after.holder).toBeUndefined();
  expect(after.queue).toEqual([]);
});

test('lock held by a terminated release is taken back', async () => {
  const stageInput: StageInput = { pipeline: 'orphan', stage: 'test', holderCheckIntervalMs: 300 };
  await environment.client.workflow.start(STAGE_WORKFLOW_TYPE, {
    workflowId: stageWorkflowId('orphan', 'test'),
    taskQueue: TASK_QUEUE,
    args: [stageInput],
  });
  const stuck = join(workDir, 'orphan-barrier-never-created');
  const holding = buildPipeline('orphan', registry.host, [
    { name: 'dev' },
    { name: 'test', hooks: [barrierHook('orphan-hold', stuck)] },
  ]);
  await pushSource('orphan', 'first');
  const first = await start(holding);
  await waitForRelease(environment.client, first.workflowId, (s) => s.stages[0].state === 'testing', 'first to hold');
  await environment.client.workflow.getHandle(first.workflowId).terminate('simulating a lost release');

  const plain = buildPipeline('orphan', registry.host, [{ name: 'dev' }, { name: 'test' }]);
  const second = await pushSource('orphan', 'second');
  const secondRelease = await start(plain);
  const status = (await environment.client.workflow.getHandle(secondRelease.workflowId).result()) as ReleaseStatus;
  expect(status.state).toBe('completed');
  expect(await tagDigest(registry.url, 'orphan/test', 'test')).toBe(second);
  const ledger = await getStageLedger(environment.client, 'orphan', 'test');
  expect(ledger.map((entry) => entry.workflowId)).toEqual([secondRelease.workflowId]);
});

test('stage workflow continues as new and keeps its ledger', async () => {
  const stageInput: StageInput = { pipeline: 'long', stage: 'test', maxHistoryEvents: 40 };
  const firstRun = await environment.client.workflow.start(STAGE_WORKFLOW_TYPE, {
    workflowId: stageWorkflowId('long', 'test'),
    taskQueue: TASK_QUEUE,
    args: [stageInput],
  });
  const pipeline = buildPipeline('long', registry.host, [{ name: 'dev' }, { name: 'test' }]);
  const digests: string[] = [];
  for (let index = 0; index < 5; index += 1) {
    digests.push(await pushSource('long', `build-${index}`));
    const started = await start(pipeline);
    const status = (await environment.client.workflow.getHandle(started.workflowId).result()) as ReleaseStatus;
    expect(status.state).toBe('completed');
  }

  const description = await environment.client.workflow.getHandle(stageWorkflowId('long', 'test')).describe();
  expect(description.runId).not.toBe(firstRun.firstExecutionRunId);
  const ledger = await getStageLedger(environment.client, 'long', 'test');
  expect(ledger.map((entry) => entry.digest)).toEqual(digests);
  expect(ledger.map((entry) => entry.previousDigest)).toEqual([null, ...digests.slice(0, -1)]);
  expect(await getStageLedger(environment.client, 'long', 'test', 2)).toEqual(ledger.slice(-2));
});
