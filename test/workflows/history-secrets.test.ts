import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pushImage } from '../../scripts/lib/images';
import { type LocalRegistry, startRegistry } from '../../scripts/lib/registry';
import { RegistryClient } from '../../src/oci/client';
import { Reference } from '../../src/oci/reference';
import { approveRelease, startRelease } from '../../src/temporal/releases';
import type { ReleaseStatus } from '../../workflows/messages';
import { buildPipeline, tagDigest, writeScript } from '../helpers/pipelines';
import {
  type RunningWorker,
  runWorker,
  startTemporalTestEnvironment,
  type TemporalTestEnvironment,
  waitForRelease,
} from '../helpers/temporal';

const TASK_QUEUE = 'history-secrets-test';
const USERNAME = 'promoter';
const PASSWORD = 'Hx7-never-in-history-Q2';
jest.setTimeout(90_000);

let environment: TemporalTestEnvironment;
let secured: LocalRegistry;
let scratch: LocalRegistry;
let worker: RunningWorker;
let workDir: string;
const credentials = () => ({ [secured.host]: { username: USERNAME, password: PASSWORD } });

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'history-secrets-'));
  [environment, secured, scratch] = await Promise.all([
    startTemporalTestEnvironment(),
    startRegistry({ users: { [USERNAME]: PASSWORD } }),
    startRegistry(),
  ]);
  // A hook that printed its whole environment would carry this into the history if hooks inherited the worker's.
  process.env.PROMOTER_TEST_REGISTRY_PASSWORD = PASSWORD;
  worker = await runWorker(environment, { taskQueue: TASK_QUEUE, registryOptions: { credentials: credentials() } });
});

afterAll(async () => {
  delete process.env.PROMOTER_TEST_REGISTRY_PASSWORD;
  await worker?.stop();
  await Promise.all([environment?.stop(), secured?.stop(), scratch?.stop()]);
  rmSync(workDir, { recursive: true, force: true });
});

/** Collects every string and every byte field (payload data decoded as UTF-8) of a history. */
function historyText(value: unknown, parts: string[] = []): string[] {
  if (typeof value === 'string') {
    parts.push(value);
  } else if (value instanceof Uint8Array) {
    parts.push(Buffer.from(value).toString('utf8'));
  } else if (Array.isArray(value)) {
    value.forEach((item) => historyText(item, parts));
  } else if (value !== null && typeof value === 'object') {
    Object.values(value).forEach((item) => historyText(item, parts));
  }
  return parts;
}

test('release history contains no registry credentials', async () => {
  const hook = writeScript(workDir, 'print-env.sh', 'echo "hook environment:"; env');
  const pipeline = buildPipeline('secrets', secured.host, [
    { name: 'dev' },
    { name: 'test', hooks: [{ name: 'env', command: [hook] }] },
    { name: 'prod', approval: { approvers: ['alice'] } },
  ]);
  const registryClient = new RegistryClient({ credentials: credentials() });
  const built = await pushImage(scratch, 'build/app', { layers: [{ randomBytes: 2048 }] }, 'v1');
  await registryClient.copy(
    Reference.parse(`${scratch.host}/build/app@${built.digest}`),
    Reference.parse(`${secured.host}/secrets/dev:dev`),
  );

  const started = await startRelease(
    environment.client,
    { pipeline, source: `${secured.host}/secrets/dev:dev`, startedBy: 'ci', taskQueue: TASK_QUEUE },
    registryClient,
  );
  await waitForRelease(environment.client, started.workflowId, (s) => s.state === 'awaiting-approval', 'prod gate');
  await approveRelease(environment.client, started.workflowId, {
    stage: 'prod',
    digest: built.digest,
    person: 'alice',
  });
  const handle = environment.client.workflow.getHandle(started.workflowId);
  const status = (await handle.result()) as ReleaseStatus;
  expect(status.state).toBe('completed');
  const login = { username: USERNAME, password: PASSWORD };
  expect(await tagDigest(secured.url, 'secrets/prod', 'prod', login)).toBe(built.digest);

  const history = await handle.fetchHistory();
  const text = historyText(history).join('\n');
  // The search must see decoded payloads: the digest and the hook's output are in them.
  expect(text).toContain(built.digest);
  expect(text).toContain('hook environment:');
  expect(text).toContain('PROMOTE_IMAGE=');

  const basic = Buffer.from(`${USERNAME}:${PASSWORD}`).toString('base64');
  const lower = text.toLowerCase();
  expect(text).not.toContain(PASSWORD);
  expect(text).not.toContain(Buffer.from(PASSWORD).toString('base64'));
  expect(text).not.toContain(basic);
  expect(lower).not.toContain('authorization');
  expect(lower).not.toContain('basic ');
  expect(text).not.toContain('PROMOTER_TEST_REGISTRY_PASSWORD');
});
