import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { pushImage } from '../../scripts/lib/images';
import { type LocalRegistry, startRegistry } from '../../scripts/lib/registry';
import { RegistryClient } from '../../src/oci/client';
import { approveRelease, getStageLedger, rejectRelease, startRelease } from '../../src/temporal/releases';
import { type ApprovalInput, approveSignal, type ReleaseStatus } from '../../workflows/messages';
import { buildPipeline, type TestStage, tagDigest } from '../helpers/pipelines';
import {
  type RunningWorker,
  runWorker,
  startTemporalTestEnvironment,
  type TemporalTestEnvironment,
  waitForRelease,
} from '../helpers/temporal';

const TASK_QUEUE = 'approvals-test';
jest.setTimeout(90_000);

let environment: TemporalTestEnvironment;
let registry: LocalRegistry;
let worker: RunningWorker;
const registryClient = new RegistryClient({ credentials: {} });

beforeAll(async () => {
  [environment, registry] = await Promise.all([startTemporalTestEnvironment(), startRegistry()]);
  worker = await runWorker(environment, { taskQueue: TASK_QUEUE, registryOptions: { credentials: {} } });
});

afterAll(async () => {
  await worker?.stop();
  await Promise.all([environment?.stop(), registry?.stop()]);
});

/** Starts a release of a fresh image through dev → test → prod, started by alice, and waits at prod's gate. */
async function releaseAtGate(name: string, prod: TestStage['approval']) {
  const pipeline = buildPipeline(name, registry.host, [
    { name: 'dev' },
    { name: 'test' },
    { name: 'prod', approval: prod },
  ]);
  const image = await pushImage(
    registry,
    `${name}/dev`,
    { layers: [{ files: [{ path: 'id', content: name }] }] },
    'dev',
  );
  const started = await startRelease(
    environment.client,
    { pipeline, source: `${registry.host}/${name}/dev:dev`, startedBy: 'alice', taskQueue: TASK_QUEUE },
    registryClient,
  );
  await waitForRelease(environment.client, started.workflowId, (s) => s.state === 'awaiting-approval', 'prod gate');
  return { workflowId: started.workflowId, digest: image.digest };
}

/** Returns the reason an approve update was refused with. */
async function refusal(workflowId: string, approval: ApprovalInput): Promise<string> {
  try {
    await approveRelease(environment.client, workflowId, approval);
  } catch (error) {
    expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
    return ((error as WorkflowUpdateFailedError).cause as Error).message;
  }
  throw new Error(`the approval by ${approval.person} of ${approval.stage} was accepted, expected a refusal`);
}

test('approvals are refused for strangers, self, other digests and ungated stages', async () => {
  const { workflowId, digest } = await releaseAtGate('gated', {
    approvers: ['alice', 'bob', 'carol'],
    required: 2,
  });
  const approval = (person: string, stage = 'prod', named = digest) => ({ stage, digest: named, person });

  expect(await refusal(workflowId, approval('mallory'))).toBe(
    '"mallory" is not an approver of stage "prod"; approvers: alice, bob, carol',
  );
  expect(await refusal(workflowId, approval('alice'))).toBe(
    '"alice" started this workflow and stage "prod" does not allow self-approval',
  );
  const otherDigest = `sha256:${'ab'.repeat(32)}`;
  expect(await refusal(workflowId, approval('bob', 'prod', otherDigest))).toBe(
    `digest ${otherDigest} is not the digest under approval; expected ${digest}`,
  );
  expect(await refusal(workflowId, approval('bob', 'test'))).toBe(
    'stage "test" has no approval gate; stages with one: prod',
  );
  expect(await refusal(workflowId, approval('bob', 'qa'))).toBe(
    'unknown stage "qa"; stages with an approval gate: prod',
  );

  await environment.client.workflow.getHandle(workflowId).signal(approveSignal, approval('mallory'));
  const afterSignal = await waitForRelease(
    environment.client,
    workflowId,
    (status) => status.refusedApprovals.length === 1,
    'the refused signal to be listed',
  );
  expect(afterSignal.refusedApprovals[0]).toMatchObject({ person: 'mallory', stage: 'prod', decision: 'approved' });
  expect(afterSignal.stages[1].approvals).toEqual([]);

  expect(await approveRelease(environment.client, workflowId, approval('bob'))).toEqual({
    stage: 'prod',
    decision: 'approved',
    approvals: 1,
    required: 2,
  });
  expect(await refusal(workflowId, approval('bob'))).toBe('"bob" has already decided on stage "prod"');
  const waiting = await waitForRelease(environment.client, workflowId, () => true, 'status');
  expect(waiting.state).toBe('awaiting-approval');

  const second = await approveRelease(environment.client, workflowId, { ...approval('carol'), comment: 'looks good' });
  expect(second.approvals).toBe(2);

  const status = (await environment.client.workflow.getHandle(workflowId).result()) as ReleaseStatus;
  expect(status.state).toBe('completed');
  expect(status.stages[1].approvals.map((record) => record.person)).toEqual(['bob', 'carol']);
  const ledger = await getStageLedger(environment.client, 'gated', 'prod');
  expect(ledger[0].approvals.map((record) => record.person)).toEqual(['bob', 'carol']);
  expect(await tagDigest(registry.url, 'gated/prod', 'prod')).toBe(digest);
  // Temporal itself refuses updates to a closed workflow, before any validator runs.
  await expect(approveRelease(environment.client, workflowId, approval('bob'))).rejects.toThrow(WorkflowNotFoundError);
});

test('self-approval counts when the gate allows it', async () => {
  const { workflowId, digest } = await releaseAtGate('selfok', { approvers: ['alice'], allowSelfApproval: true });
  await approveRelease(environment.client, workflowId, { stage: 'prod', digest, person: 'alice' });
  const status = (await environment.client.workflow.getHandle(workflowId).result()) as ReleaseStatus;
  expect(status.state).toBe('completed');
});

test('one rejection ends the release as rejected', async () => {
  const { workflowId, digest } = await releaseAtGate('rejected', { approvers: ['bob', 'carol'], required: 2 });
  await approveRelease(environment.client, workflowId, { stage: 'prod', digest, person: 'bob' });
  const result = await rejectRelease(environment.client, workflowId, {
    stage: 'prod',
    digest,
    person: 'carol',
    comment: 'not during the freeze',
  });
  expect(result.decision).toBe('rejected');

  const status = (await environment.client.workflow.getHandle(workflowId).result()) as ReleaseStatus;
  expect(status.state).toBe('rejected');
  expect(status.failure).toBe('carol rejected stage prod: not during the freeze');
  expect(status.stages[1].state).toBe('rejected');
  expect(await tagDigest(registry.url, 'rejected/prod', 'prod')).toBeUndefined();
  expect(await tagDigest(registry.url, 'rejected/test', 'test')).toBe(digest);
});

test('gate timeout ends the release as expired', async () => {
  const { workflowId } = await releaseAtGate('expired', { approvers: ['bob'], timeout: '1s' });
  const status = (await environment.client.workflow.getHandle(workflowId).result()) as ReleaseStatus;
  expect(status.state).toBe('expired');
  expect(status.failure).toBe('stage prod was not approved within 1s');
  expect(status.stages[1].state).toBe('expired');
  expect(await tagDigest(registry.url, 'expired/prod', 'prod')).toBeUndefined();
});
