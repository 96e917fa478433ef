import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { pushImage } from '../../scripts/lib/images';
import { type LocalRegistry, startRegistry } from '../../scripts/lib/registry';
import { RegistryClient } from '../../src/oci/client';
import { approveRelease, getStageLedger, ReleaseAlreadyEndedError, startRelease } from '../../src/temporal/releases';
import { approveSignal, type ReleaseStatus } from '../../workflows/messages';
import { buildPipeline, tagDigest, writeScript } from '../helpers/pipelines';
import { pushReferrer, tagReferrers } from '../helpers/referrers';
import {
  isFinished,
  type RunningWorker,
  runWorker,
  startTemporalTestEnvironment,
  type TemporalTestEnvironment,
  waitForRelease,
} from '../helpers/temporal';

const TASK_QUEUE = 'release-test';
jest.setTimeout(90_000);

let environment: TemporalTestEnvironment;
let registry: LocalRegistry;
let worker: RunningWorker;
let workDir: string;
const registryClient = new RegistryClient({ credentials: {} });

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'release-test-'));
  [environment, registry] = await Promise.all([startTemporalTestEnvironment(), startRegistry()]);
  worker = await runWorker(environment, { taskQueue: TASK_QUEUE, registryOptions: { credentials: {} } });
});

afterAll(async () => {
  await worker?.stop();
  await Promise.all([environment?.stop(), registry?.stop()]);
  rmSync(workDir, { recursive: true, force: true });
});

async function pushSource(pipeline: string, tag: string, seed: number): Promise<string> {
  const image = await pushImage(
    registry,
    `${pipeline}/dev`,
    { layers: [{ randomBytes: 4096 + seed }, { files: [{ path: 'seed', content: String(seed) }] }] },
    tag,
  );
  return image.digest;
}

function handleOf(workflowId: string): WorkflowHandle {
  return environment.client.workflow.getHandle(workflowId);
}

function start(pipeline: ReturnType<typeof buildPipeline>, source: string, startedBy = 'ci', force = false) {
  return startRelease(
    environment.client,
    { pipeline, source, startedBy, force, taskQueue: TASK_QUEUE },
    registryClient,
  );
}

test('release through four stages moves every tag to the source digest', async () => {
  const pipeline = buildPipeline('four', registry.host, [
    { name: 'dev' },
    { name: 'test', tags: ['sha-%s'] },
    { name: 'staging' },
    { name: 'prod', approval: { approvers: ['alice', 'bob'] } },
  ]);
  const digest = await pushSource('four', 'dev', 1);

  const started = await start(pipeline, `${registry.host}/four/dev:dev`);
  expect(started.digest).toBe(digest);
  expect(started.existing).toBe(false);
  expect(started.source).toBe(`${registry.host}/four/dev:dev@${digest}`);

  const waiting = await waitForRelease(
    environment.client,
    started.workflowId,
    (status) => status.state === 'awaiting-approval',
    'prod to await approval',
  );
  expect(waiting.currentStage).toBe('prod');
  expect(waiting.stages.map((stage) => stage.state)).toEqual(['promoted', 'promoted', 'awaiting-approval']);
  expect(await tagDigest(registry.url, 'four/prod', 'prod')).toBeUndefined();

  const approval = await approveRelease(environment.client, started.workflowId, {
    stage: 'prod',
    digest,
    person: 'alice',
    comment: 'ship it',
  });
  expect(approval).toEqual({ stage: 'prod', decision: 'approved', approvals: 1, required: 1 });

  const status = (await handleOf(started.workflowId).result()) as ReleaseStatus;
  expect(status.state).toBe('completed');
  expect(status.digest).toBe(digest);
  for (const stage of ['test', 'staging', 'prod']) {
    expect(await tagDigest(registry.url, `four/${stage}`, stage)).toBe(digest);
    const stageStatus = status.stages.find((candidate) => candidate.name === stage)!;
    expect(stageStatus.state).toBe('promoted');
    expect(stageStatus.previousDigest).toBeNull();
    expect(stageStatus.tagsMoved[0]).toBe(stage);
    const ledger = await getStageLedger(environment.client, 'four', stage);
    expect(ledger).toHaveLength(1);
    expect(ledger[0]).toMatchObject({ kind: 'promoted', digest, environmentDigest: digest, previousDigest: null });
    expect(ledger[0].workflowId).toBe(started.workflowId);
  }
  expect(await tagDigest(registry.url, 'four/dev', 'dev')).toBe(digest);
  expect(await tagDigest(registry.url, 'four/test', `sha-${digest.slice(7, 19)}`)).toBe(digest);

  const prodLedger = await getStageLedger(environment.client, 'four', 'prod');
  expect(prodLedger[0].approvals.map((record) => [record.person, record.comment])).toEqual([['alice', 'ship it']]);
  expect(status.stages[2].approvals).toHaveLength(1);
});

test('release is listed by pipeline, digest and state', async () => {
  const pipeline = buildPipeline('listed', registry.host, [{ name: 'dev' }, { name: 'test' }]);
  const digest = await pushSource('listed', 'dev', 2);
  const started = await start(pipeline, `${registry.host}/listed/dev:dev`);
  await handleOf(started.workflowId).result();

  const query = `PromotePipeline = 'listed' AND PromoteDigest = '${digest}' AND PromoteState = 'completed'`;
  const found: string[] = [];
  await waitForListing(query, found);
  expect(found).toEqual([started.workflowId]);
});

async function waitForListing(query: string, found: string[]): Promise<void> {
  for (let attempt = 0; attempt < 50 && found.length === 0; attempt += 1) {
    for await (const execution of environment.client.workflow.list({ query })) {
      found.push(execution.workflowId);
    }
    if (found.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

test('failing hook in staging moves staging back and leaves prod alone', async () => {
  const failList = join(workDir, 'fail-digests');
  writeFileSync(failList, '');
  const hook = writeScript(
    workDir,
    'staging-check.sh',
    `echo "checking $PROMOTE_IMAGE in $PROMOTE_STAGE"\nif grep -q "$PROMOTE_DIGEST" "${failList}"; then echo "smoke test failed" >&2; exit 3; fi`,
  );
  const pipeline = buildPipeline('hookfail', registry.host, [
    { name: 'dev' },
    { name: 'test' },
    { name: 'staging', hooks: [{ name: 'smoke', command: [hook] }] },
    { name: 'prod' },
  ]);
  const good = await pushSource('hookfail', 'dev', 3);
  const first = await start(pipeline, `${registry.host}/hookfail/dev:dev`);
  expect(((await handleOf(first.workflowId).result()) as ReleaseStatus).state).toBe('completed');

  const bad = await pushSource('hookfail', 'dev', 4);
  writeFileSync(failList, `${bad}\n`);
  const second = await start(pipeline, `${registry.host}/hookfail/dev:dev`);
  const status = (await handleOf(second.workflowId).result()) as ReleaseStatus;

  expect(status.state).toBe('failed');
  expect(status.failure).toContain('hook smoke failed (exit code 3)');
  expect(await tagDigest(registry.url, 'hookfail/test', 'test')).toBe(bad);
  expect(await tagDigest(registry.url, 'hookfail/staging', 'staging')).toBe(good);
  expect(await tagDigest(registry.url, 'hookfail/prod', 'prod')).toBe(good);

  const staging = status.stages.find((stage) => stage.name === 'staging')!;
  expect(staging.state).toBe('rolled-back');
  expect(staging.previousDigest).toBe(good);
  expect(staging.hooks).toHaveLength(1);
  expect(staging.hooks[0]).toMatchObject({ name: 'smoke', passed: false, exitCode: 3 });
  expect(staging.hooks[0].output).toContain('smoke test failed');
  expect(staging.hooks[0].output).toContain(`checking ${registry.host}/hookfail/staging@${bad} in staging`);
  expect(status.stages.find((stage) => stage.name === 'prod')!.state).toBe('skipped');

  const ledger = await getStageLedger(environment.client, 'hookfail', 'staging');
  expect(ledger.map((entry) => entry.kind)).toEqual(['promoted', 'rolled-back']);
  expect(ledger[1]).toMatchObject({ digest: bad, environmentDigest: good, previousDigest: good });
  expect(ledger[1].reason).toContain('hook smoke failed');
  expect(await getStageLedger(environment.client, 'hookfail', 'prod')).toHaveLength(1);
});

test('failed first promotion deletes the environment tag it created', async () => {
  const hook = writeScript(workDir, 'always-fails.sh', 'echo "no"; exit 1');
  const pipeline = buildPipeline('fresh', registry.host, [
    { name: 'dev' },
    { name: 'test', tags: ['%n-candidate'], hooks: [{ name: 'check', command: [hook] }] },
  ]);
  await pushSource('fresh', 'v1', 5);
  const started = await start(pipeline, `${registry.host}/fresh/dev:v1`);
  const status = (await handleOf(started.workflowId).result()) as ReleaseStatus;

  expect(status.state).toBe('failed');
  expect(status.stages[0].state).toBe('rolled-back');
  expect(status.stages[0].tagsMoved).toEqual(['test', 'v1-candidate']);
  expect(await tagDigest(registry.url, 'fresh/test', 'test')).toBeUndefined();
  expect(await tagDigest(registry.url, 'fresh/test', 'v1-candidate')).toBeUndefined();
  const ledger = await getStageLedger(environment.client, 'fresh', 'test');
  expect(ledger).toHaveLength(1);
  expect(ledger[0]).toMatchObject({ kind: 'rolled-back', environmentDigest: null, previousDigest: null });
});

test('stage with referrers receives the image signature', async () => {
  const pipeline = buildPipeline('signed', registry.host, [
    { name: 'dev' },
    { name: 'test', referrers: true },
    { name: 'prod' },
  ]);
  const image = await pushImage(registry, 'signed/dev', { layers: [{ randomBytes: 2048 }] }, 'v1');
  const signature = await pushReferrer(registry, 'signed/dev', image, 'application/vnd.example.signature.v1', 'ok');
  await tagReferrers(registry, 'signed/dev', image, [signature]);

  const started = await start(pipeline, `${registry.host}/signed/dev:v1`);
  const status = (await handleOf(started.workflowId).result()) as ReleaseStatus;

  expect(status.state).toBe('completed');
  const head = { method: 'HEAD', headers: { accept: signature.mediaType } };
  const inTest = await fetch(`${registry.url}/v2/signed/test/manifests/${signature.digest}`, head);
  expect(inTest.status).toBe(200);
  const inProd = await fetch(`${registry.url}/v2/signed/prod/manifests/${signature.digest}`, head);
  expect(inProd.status).toBe(404);
});

test('insecure registry the worker refuses fails the release at its start', async () => {
  const pipeline = {
    ...buildPipeline('plain', registry.host, [{ name: 'dev' }, { name: 'test' }]),
    insecureRegistries: [registry.host, 'registry.example.com:5000'],
  };
  await pushSource('plain', 'v1', 7);

  const started = await start(pipeline, `${registry.host}/plain/dev:v1`);
  const status = (await handleOf(started.workflowId).result()) as ReleaseStatus;

  expect(status.state).toBe('failed');
  expect(status.failure).toContain(
    'the pipeline lists registry.example.com:5000 in insecureRegistries, but this worker reaches it over HTTPS; ' +
      'start the worker with --insecure-registry registry.example.com:5000 to allow plain HTTP',
  );
  expect(await tagDigest(registry.url, 'plain/test', 'test')).toBeUndefined();
});

test('approval sent before its stage is reached is used', async () => {
  const barrier = join(workDir, 'early-barrier');
  const hook = writeScript(
    workDir,
    'wait-for-barrier.sh',
    `for i in $(seq 1 200); do [ -e "${barrier}" ] && exit 0; sleep 0.1; done; echo "barrier never appeared"; exit 1`,
  );
  const pipeline = buildPipeline('early', registry.host, [
    { name: 'dev' },
    { name: 'test', hooks: [{ name: 'barrier', command: [hook] }] },
    { name: 'prod', approval: { approvers: ['alice'] } },
  ]);
  const digest = await pushSource('early', 'dev', 6);
  const started = await start(pipeline, `${registry.host}/early/dev:dev`);
  await waitForRelease(
    environment.client,
    started.workflowId,
    (status) => status.stages[0].state === 'testing',
    'test hooks to run',
  );

  await handleOf(started.workflowId).signal(approveSignal, { stage: 'prod', digest, person: 'alice' });
  const beforeProd = await waitForRelease(
    environment.client,
    started.workflowId,
    (status) => status.stages[1].approvals.length === 1,
    'the early approval to be recorded',
  );
  expect(beforeProd.stages[1].state).toBe('pending');
  expect(existsSync(barrier)).toBe(false);
  writeFileSync(barrier, '');

  const status = (await handleOf(started.workflowId).result()) as ReleaseStatus;
  expect(status.state).toBe('completed');
  const prod = status.stages[1];
  expect(prod.approvals.map((record) => record.person)).toEqual(['alice']);
  expect(prod.approvals[0].at < prod.startedAt!).toBe(true);
  expect(await tagDigest(registry.url, 'early/prod', 'prod')).toBe(digest);
});

test('same digest started twice gives one release', async () => {
  const pipeline = buildPipeline('twice', registry.host, [
    { name: 'dev' },
    { name: 'test', approval: { approvers: ['bob'] } },
  ]);
  const digest = await pushSource('twice', 'dev', 7);
  const source = `${registry.host}/twice/dev:dev`;

  const [first, second] = await Promise.all([start(pipeline, source), start(pipeline, source)]);
  expect(second.workflowId).toBe(first.workflowId);
  expect(second.runId).toBe(first.runId);
  expect([first.existing, second.existing].sort()).toEqual([false, true]);
  const third = await start(pipeline, `${registry.host}/twice/dev@${digest}`);
  expect(third).toMatchObject({ workflowId: first.workflowId, runId: first.runId, existing: true });

  await waitForRelease(environment.client, first.workflowId, (status) => status.state === 'awaiting-approval', 'gate');
  await approveRelease(environment.client, first.workflowId, { stage: 'test', digest, person: 'bob' });
  expect(((await handleOf(first.workflowId).result()) as ReleaseStatus).state).toBe('completed');

  await expect(start(pipeline, source)).rejects.toThrow(ReleaseAlreadyEndedError);
  await expect(start(pipeline, source)).rejects.toThrow(`digest ${digest} was already released`);

  const forced = await start(pipeline, source, 'ci', true);
  expect(forced.workflowId).toBe(first.workflowId);
  expect(forced.runId).not.toBe(first.runId);
  expect(forced.existing).toBe(false);
  const forcedStatus = await waitForRelease(
    environment.client,
    forced.workflowId,
    (status) => status.state === 'awaiting-approval',
    'the forced release to reach the gate',
  );
  expect(forcedStatus.force).toBe(true);
  await handleOf(forced.workflowId).cancel();
  const cancelled = await waitForRelease(environment.client, forced.workflowId, isFinished, 'cancellation');
  expect(cancelled.state).toBe('cancelled');
  expect(cancelled.stages[0].state).toBe('cancelled');
});

test('soak time passes before the next stage starts', async () => {
  const pipeline = buildPipeline('soak', registry.host, [
    { name: 'dev' },
    { name: 'test', soak: '1500ms' },
    { name: 'prod' },
  ]);
  await pushSource('soak', 'dev', 8);
  const started = await start(pipeline, `${registry.host}/soak/dev:dev`);
  const soaking = await waitForRelease(
    environment.client,
    started.workflowId,
    (status) => status.stages[0].state === 'soaking',
    'test to soak',
  );
  expect(soaking.currentStep).toBe('soaking test for 1500ms');
  expect(soaking.stages[1].state).toBe('pending');

  const status = (await handleOf(started.workflowId).result()) as ReleaseStatus;
  expect(status.state).toBe('completed');
  const [test, prod] = status.stages;
  expect(Date.parse(prod.startedAt!) - Date.parse(test.startedAt!)).toBeGreaterThanOrEqual(1500);
});

test('closed workflows replay without nondeterminism', async () => {
  const histories = environment.client.workflow.list({ query: 'ExecutionStatus != "Running"' }).intoHistories();
  const replayed: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: environment.bundle }, histories)) {
    expect(result.error).toBeUndefined();
    replayed.push(result.workflowId);
  }
  // Runs last, so it replays the releases of every test before it (fewer when jest -t selects some).
  expect(replayed.filter((id) => id.startsWith('release-')).length).toBeGreaterThanOrEqual(1);
});
