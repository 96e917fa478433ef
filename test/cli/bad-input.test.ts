/**
 * Bad input to `promote`: each case exits 2 (or 3 for an unreachable registry) with a message that names what was
 * wrong, and starts nothing. No worker runs, so nothing could act on a release by mistake.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, type Connection } from '@temporalio/client';
import { freePort } from '../../scripts/lib/ports';
import { type LocalRegistry, startRegistry } from '../../scripts/lib/registry';
import { type LocalTemporalServer, startTemporalServer } from '../../scripts/lib/temporal-server';
import { promote, promoteEnvironment, type PromoteRun } from './promote-process';
import { connectTemporal } from '../helpers/temporal';

jest.setTimeout(60_000);

let dir: string;
let server: LocalTemporalServer;
let registry: LocalRegistry;
let connection: Connection;
let env: NodeJS.ProcessEnv;
let pipelineFile: string;

function pipelineYaml(registryHost: string): string {
  return `name: shop
stages:
  - name: dev
    repository: ${registryHost}/shop/dev
    environmentTag: dev
  - name: prod
    repository: ${registryHost}/shop/prod
    environmentTag: prod
`;
}

function expectBadInput(run: PromoteRun, message: string): void {
  expect(run.stderr).toContain(message);
  expect(run.code).toBe(2);
  expect(run.stdout).toBe('');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'promote-bad-input-'));
  [server, registry] = await Promise.all([startTemporalServer(), startRegistry()]);
  connection = await connectTemporal(server.address);
  env = promoteEnvironment(server.address);
  pipelineFile = join(dir, 'shop.yaml');
  writeFileSync(pipelineFile, pipelineYaml(registry.host));
});

afterAll(async () => {
  await connection?.close();
  await Promise.all([server?.stop(), registry?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

afterEach(async () => {
  // Bad input must not have started anything.
  const client = new Client({ connection });
  const started: string[] = [];
  for await (const info of client.workflow.list()) {
    started.push(info.workflowId);
  }
  expect(started).toEqual([]);
});

describe('promote start', () => {
  it('names the path and line of an invalid pipeline file', async () => {
    const invalid = join(dir, 'invalid.yaml');
    writeFileSync(
      invalid,
      pipelineYaml(registry.host).replace('environmentTag: prod', 'environmentTag: prod\n    soak: soon'),
    );
    const run = await promote(env, 'start', '--pipeline', invalid);
    expectBadInput(run, `promote: invalid pipeline ${invalid}:\n  - stages[1].soak, line 9: invalid duration "soon"`);
  });

  it('names a pipeline file that does not exist', async () => {
    const run = await promote(env, 'start', '--pipeline', join(dir, 'absent.yaml'));
    expectBadInput(run, 'cannot read the file: ENOENT');
  });

  it('requires --pipeline', async () => {
    const run = await promote(env, 'start');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("error: required option '--pipeline <file>' not specified");
  });

  it('shows the expected form of a malformed reference', async () => {
    const run = await promote(env, 'start', '--pipeline', pipelineFile, 'shop:dev:latest');
    expectBadInput(run, 'invalid image reference "shop:dev:latest"');
    expect(run.stderr).toContain('expected [registry[:port]/]repository[:tag][@sha256:<64 hex>]');
  });

  it('exits 2 when the image does not exist', async () => {
    const run = await promote(env, 'start', '--pipeline', pipelineFile, `${registry.host}/shop/dev:missing`);
    expectBadInput(run, `promote: source image ${registry.host}/shop/dev:missing not found: HEAD manifest`);
    expect(run.stderr).toContain(': 404;');
  });

  it('reads a bare tag in the first stage repository', async () => {
    const run = await promote(env, 'start', '--pipeline', pipelineFile, '1.4.2');
    expectBadInput(run, `promote: source image ${registry.host}/shop/dev:1.4.2 not found: HEAD manifest`);
  });

  it('reads a bare digest in the first stage repository', async () => {
    const digest = `sha256:${'d'.repeat(64)}`;
    const run = await promote(env, 'start', '--pipeline', pipelineFile, digest);
    expectBadInput(run, `promote: source image ${registry.host}/shop/dev@${digest} not found`);
  });

  it('rejects a source in another repository', async () => {
    const run = await promote(env, 'start', '--pipeline', pipelineFile, `${registry.host}/other/app:3.0.0`);
    expectBadInput(
      run,
      `promote: source ${registry.host}/other/app:3.0.0 is not in ${registry.host}/shop/dev, the repository of ` +
        'the first stage "dev" of pipeline shop',
    );
    expect(run.stderr).toContain(`e.g. 1.4.2, sha256:<64 hex> or ${registry.host}/shop/dev:1.4.2`);
  });

  it('rejects an empty --as', async () => {
    const run = await promote(env, 'start', '--pipeline', pipelineFile, '--as', '  ');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('expected a non-empty name, e.g. alice, got "  "');
  });

  it('exits 3 when the registry cannot be reached', async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    const file = join(dir, 'closed.yaml');
    writeFileSync(file, pipelineYaml(closed));
    const run = await promote(env, 'start', '--pipeline', file);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(`promote: cannot reach the registry of source image ${closed}/shop/dev:latest: `);
    expect(run.stderr).toContain('no response (ECONNREFUSED');
  });
});

describe('promote approve and reject', () => {
  it('requires a release', async () => {
    const run = await promote(env, 'approve', '--stage', 'prod');
    expectBadInput(
      run,
      'missing release: expected a RELEASE_ID argument, or --pipeline FILE with --digest sha256:<64 hex>',
    );
  });

  it('shows the expected form of a malformed digest', async () => {
    const run = await promote(env, 'reject', '--pipeline', pipelineFile, '--digest', 'sha256:abc', '--stage', 'prod');
    expectBadInput(run, '"sha256:abc"');
  });

  it('rejects a digest prefix with --pipeline', async () => {
    const run = await promote(env, 'approve', '--pipeline', pipelineFile, '--digest', 'sha256:3cb85ad7a5bb');
    expectBadInput(run, '--digest sha256:3cb85ad7a5bb is a prefix, which names a release only with its RELEASE_ID');
  });

  it('names an unknown stage and lists the target stages', async () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const run = await promote(env, 'approve', '--pipeline', pipelineFile, '--digest', digest, '--stage', 'qa');
    expectBadInput(run, 'unknown stage "qa" in pipeline shop; expected one of: prod');
  });

  it('names a release that does not exist', async () => {
    const id = `release-shop-${'b'.repeat(64)}`;
    const run = await promote(env, 'approve', id, '--stage', 'prod', '--as', 'alice');
    expectBadInput(run, `release ${id} not found in namespace default`);
  });

  it('names a release ID without a digest that does not exist', async () => {
    const run = await promote(env, 'approve', 'release-shop-nope', '--as', 'alice');
    expectBadInput(run, 'release release-shop-nope not found in namespace default');
  });

  it('names a rollback that does not exist', async () => {
    const run = await promote(env, 'reject', 'rollback-shop-prod-x1', '--as', 'alice');
    expectBadInput(run, 'rollback rollback-shop-prod-x1 not found in namespace default');
  });
});

describe('promote status, history and rollback', () => {
  it('names a release ID that does not exist', async () => {
    const id = `release-shop-${'c'.repeat(64)}`;
    const run = await promote(env, 'status', id);
    expectBadInput(run, `release ${id} not found in namespace default`);
  });

  it('rejects the source stage for a rollback', async () => {
    const run = await promote(env, 'rollback', '--pipeline', pipelineFile, 'dev');
    expectBadInput(run, 'stage "dev" is the source of pipeline shop, where CI pushes');
  });

  it('lists only stages with a ledger in history', async () => {
    const run = await promote(env, 'history', '--pipeline', pipelineFile, 'staging');
    expectBadInput(run, 'unknown stage "staging" in pipeline shop; expected one of: prod');
  });

  it('rejects a --limit that is not a positive integer', async () => {
    const run = await promote(env, 'list', '--limit', '0');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('expected a positive integer, e.g. 20, got "0"');
  });

  it.each([
    [
      'a --limit of 0',
      ['--limit', '0'],
      `option '--limit <count>' argument '0' is invalid. expected a positive integer`,
    ],
    ['an unknown state', ['--state', 'bogus'], `option '--state <state>' argument 'bogus' is invalid. expected one of`],
    ['an unknown option', ['--bogus'], "unknown option '--bogus'"],
  ])('prints %s as a JSON error with --json', async (_, args, message) => {
    const run = await promote(env, 'list', ...args, '--json');
    expect(run.code).toBe(2);
    const { error } = JSON.parse(run.stdout) as { error: { message: string; exitCode: number } };
    expect(error.message.slice(0, message.length)).toBe(message);
    expect(error.exitCode).toBe(2);
    expect(run.stderr).toContain(`error: ${message}`);
  });
});

describe('promote policy check', () => {
  it('rejects an image in another repository', async () => {
    const run = await promote(env, 'policy', 'check', pipelineFile, `${registry.host}/shop/prod:1.0`, '--offline');
    expectBadInput(run, `source ${registry.host}/shop/prod:1.0 is not in ${registry.host}/shop/dev`);
  });
});

describe('promote worker', () => {
  it('names a --hook-env variable that is not set', async () => {
    const run = await promote(env, 'worker', '--hook-env', 'PROMOTE_TEST_UNSET_VARIABLE');
    expectBadInput(run, "--hook-env PROMOTE_TEST_UNSET_VARIABLE: the variable is not set in the worker's environment");
  });
});
