/**
 * `promote start` when no worker polls, when a running release of the digest follows another pipeline definition,
 * and when the digest's release has ended. Runs the CLI as child processes against a real Temporal dev server, a
 * real registry and a `promote worker` that starts only in the later tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, type Connection } from '@temporalio/client';
import { pushImage } from '../../scripts/lib/images';
import { waitUntil } from '../../scripts/lib/ports';
import { type LocalRegistry, startRegistry } from '../../scripts/lib/registry';
import { type LocalTemporalServer, startTemporalServer } from '../../scripts/lib/temporal-server';
import { connectTemporal } from '../helpers/temporal';
import {
  promote,
  promoteEnvironment,
  promoteFollowing,
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
let worker: PromoteWorker | undefined;

function appPipeline(extraStage = ''): string {
  return `name: app
stages:
  - name: dev
    repository: ${registry.host}/app/dev
    environmentTag: dev
  - name: test
    repository: ${registry.host}/app/test
    environmentTag: test
${extraStage}`;
}

async function pushVersion(repository: string, version: string): Promise<string> {
  const image = await pushImage(
    registry,
    repository,
    { layers: [{ files: [{ path: 'v', content: version }] }] },
    'latest',
  );
  return image.digest;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'promote-start-'));
  [server, registry] = await Promise.all([startTemporalServer(), startRegistry()]);
  connection = await connectTemporal(server.address);
  client = new Client({ connection });
  env = promoteEnvironment(server.address);
});

afterAll(async () => {
  await worker?.stop();
  await connection?.close();
  await Promise.all([server?.stop(), registry?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

test('start --wait without worker exits 3', async () => {
  const digest = await pushVersion('app/dev', 'one');
  const file = writePipelineFile(dir, 'app.yaml', appPipeline());
  const id = `release-app-${digest.replace('sha256:', '')}`;

  const run = await promote(env, 'start', '--pipeline', file, '--wait');

  expect(run.code).toBe(3);
  expect(run.stdout).toContain(`release     ${id}\n`);
  expect(run.stderr).toBe(
    `promote: no worker polls task queue image-promoter in namespace default, so release ${id} cannot go on; ` +
      `start one with 'promote worker', then follow the release with 'promote status ${id} --watch'\n`,
  );
  expect((await client.workflow.getHandle(id).describe()).status.name).toBe('RUNNING');
});

test('start with changed definition exits 2', async () => {
  // The release of the first test still runs, because no worker has polled yet.
  const source = `${registry.host}/app/dev:latest`;
  const changed = writePipelineFile(
    dir,
    'app-changed.yaml',
    appPipeline(`  - name: prod
    repository: ${registry.host}/app/prod
    environmentTag: prod
`),
  );
  const reordered = writePipelineFile(
    dir,
    'app-reordered.yaml',
    `# The same definition as app.yaml, keys in another order.
name: app
stages:
  - environmentTag: dev
    repository: ${registry.host}/app/dev
    name: dev
  - repository: ${registry.host}/app/test
    name: test
    environmentTag: test
`,
  );

  const refused = await promote(env, 'start', '--pipeline', changed, source);
  const attached = await promoteJson<{ workflowId: string; existing: boolean }>(
    env,
    'start',
    '--pipeline',
    reordered,
    source,
  );

  expect(refused.code).toBe(2);
  expect(refused.stderr).toMatch(
    /^promote: release release-app-[0-9a-f]{64} of digest sha256:[0-9a-f]{64} is running with another definition /,
  );
  expect(refused.stderr).toContain(`of pipeline app than ${changed}; wait for it to end, or cancel it with `);
  expect(refused.stderr).toContain('then start again with --force');
  expect(attached.run.code).toBe(0);
  expect(attached.json.existing).toBe(true);
  await client.workflow.getHandle(attached.json.workflowId).terminate('end of test');
});

test('start --wait with late worker completes', async () => {
  await pushVersion('app/dev', 'two');
  const file = join(dir, 'app.yaml');
  const follower = promoteFollowing(env, 'start', '--pipeline', file, '--wait');
  await waitUntil('the release header', () => Promise.resolve(follower.stdout().includes('release ')), 30_000);

  worker = await startPromoteWorker(env);
  const run = await follower.done;

  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/^state +completed$/m);
});

test('start of failed release names state', async () => {
  const digest = await pushVersion('gate/dev', 'three');
  const file = writePipelineFile(
    dir,
    'gate.yaml',
    `name: gate
stages:
  - name: dev
    repository: ${registry.host}/gate/dev
    environmentTag: dev
  - name: test
    repository: ${registry.host}/gate/test
    environmentTag: test
    hooks:
      - name: check
        command: ["sh", "-c", "exit 1"]
`,
  );
  const id = `release-gate-${digest.replace('sha256:', '')}`;

  const first = await promote(env, 'start', '--pipeline', file, '--wait');
  const again = await promote(env, 'start', '--pipeline', file);

  expect(first.code).toBe(1);
  expect(first.stdout).toMatch(/^state +failed$/m);
  expect(again.code).toBe(2);
  expect(again.stderr).toBe(
    `promote: digest ${digest} was already released (${id}, failed in stage test); use --force to release it again\n`,
  );
});

test('start of tag@digest whose tag moved on exits 2', async () => {
  const older = await pushVersion('app/dev', 'older');
  const newer = await pushVersion('app/dev', 'newer');
  const file = writePipelineFile(dir, 'app-moved.yaml', appPipeline());

  const run = await promote(env, 'start', '--pipeline', file, `${registry.host}/app/dev:latest@${older}`);

  expect(run.code).toBe(2);
  expect(run.stderr).toContain(
    `source ${registry.host}/app/dev:latest@${older}: the tag points at ${newer}, not at the digest given; ` +
      'expected a tag that names the digest',
  );
  const id = `release-app-${older.replace('sha256:', '')}`;
  await expect(client.workflow.getHandle(id).describe()).rejects.toThrow();
});

test('start of tag@digest with a tag never pushed exits 2', async () => {
  const digest = await pushVersion('app/dev', 'untagged');
  const file = writePipelineFile(dir, 'app-untagged.yaml', appPipeline());

  const run = await promote(env, 'start', '--pipeline', file, `${registry.host}/app/dev:9.9.9@${digest}`);

  expect(run.code).toBe(2);
  expect(run.stderr).toContain(`source ${registry.host}/app/dev:9.9.9@${digest}: the tag does not exist`);
});
