/**
 * `promote policy check`, `promote policy watch` / `unwatch` and `promote serve`, run as child processes
 * against a real registry and a real Temporal dev server. No worker runs: these commands only read, start
 * or signal workflows.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, type Connection } from '@temporalio/client';
import { pushImage } from '../../scripts/lib/images';
import { freePort, waitUntil } from '../../scripts/lib/ports';
import { type LocalRegistry, startRegistry } from '../../scripts/lib/registry';
import { type LocalTemporalServer, startTemporalServer } from '../../scripts/lib/temporal-server';
import type { ReleasePlan } from '../../src/policy/plan';
import { releaseWorkflowId } from '../../src/temporal/ids';
import { watchWorkflowId } from '../../workflows/watch-messages';
import { promote, promoteEnvironment, promoteJson, writePipelineFile } from '../cli/promote-process';
import { countReleases } from './release-starter';
import { connectTemporal } from '../helpers/temporal';

jest.setTimeout(90_000);

const SECRET = 'cli-notify-secret';

let dir: string;
let temporal: LocalTemporalServer;
let registry: LocalRegistry;
let connection: Connection;
let client: Client;
let env: NodeJS.ProcessEnv;
let pipelineFile: string;

function pipelineYaml(registryHost: string, name = 'shop'): string {
  return `name: ${name}
stages:
  - name: dev
    repository: ${registryHost}/${name}/dev
    environmentTag: dev
  - name: staging
    repository: ${registryHost}/${name}/staging
    environmentTag: staging
  - name: prod
    repository: ${registryHost}/${name}/prod
    environmentTag: prod
    when:
      tag: { matches: '^v[0-9]+\\.[0-9]+\\.[0-9]+$' }
triggers:
  - tag: { matches: '^v[0-9]+\\.[0-9]+\\.[0-9]+(-rc[0-9]+)?$' }
    image: { platforms: [linux/amd64] }
`;
}

async function pushTagged(tag: string | undefined, content: string): Promise<string> {
  return (await pushImage(registry, 'shop/dev', { layers: [{ files: [{ path: 'c', content }] }] }, tag)).digest;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'promote-policy-cli-'));
  [temporal, registry] = await Promise.all([startTemporalServer(), startRegistry()]);
  connection = await connectTemporal(temporal.address);
  client = new Client({ connection });
  env = promoteEnvironment(temporal.address, { PROMOTE_NOTIFY_SECRET: SECRET });
  pipelineFile = writePipelineFile(dir, 'shop.yaml', pipelineYaml(registry.host));
});

afterAll(async () => {
  await connection?.close();
  await Promise.all([temporal?.stop(), registry?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('promote policy check', () => {
  it('names the matching trigger and the stages', async () => {
    const digest = await pushTagged('v1.2.3', 'check 1.2.3');
    const run = await promote(env, 'policy', 'check', pipelineFile, 'v1.2.3');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^image +${registry.host}/shop/dev:v1\\.2\\.3@${digest}$`, 'm'));
    expect(run.stdout).toMatch(/^trigger +triggers\[0\] matches: /m);
    expect(run.stdout).toContain('triggers[0].image.platforms: platforms linux/amd64 are present');
    expect(run.stdout).toMatch(/^stages +staging, prod$/m);
  });

  it('says where a when rule stops a release', async () => {
    await pushTagged('v1.3.0-rc1', 'check rc1');
    const { run, json } = await promoteJson<ReleasePlan>(env, 'policy', 'check', pipelineFile, 'v1.3.0-rc1');
    expect(run.code).toBe(0);
    expect(json.trigger.matched).toBe(true);
    expect(json.enters).toEqual(['staging']);
    expect(json.stoppedBy).toEqual({
      stage: 'prod',
      rule: 'stages[2].when',
      reasons: ['stages[2].when.tag: tag "v1.3.0-rc1" does not match /^v[0-9]+\\.[0-9]+\\.[0-9]+$/'],
    });
  });

  it('explains why no trigger matches', async () => {
    const digest = await pushTagged(undefined, 'untagged');
    const run = await promote(env, 'policy', 'check', pipelineFile, digest);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^trigger +none matches, so a push of this image starts no release$/m);
    expect(run.stdout).toContain('triggers[0].tag: no tag: the image was pushed or released by digest alone');
  });

  it('checks tags offline without the registry', async () => {
    const run = await promote(env, 'policy', 'check', pipelineFile, 'dev-7', '--offline');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('does not match');
    expect(run.stdout).toMatch(/^unchecked +triggers\[0\]\.image /m);
  });

  it('rejects a bad tag with exit code 2', async () => {
    const run = await promote(env, 'policy', 'check', pipelineFile, 'not a tag');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('invalid image reference "not a tag": it contains whitespace');
  });
});

describe('promote policy watch', () => {
  it('starts one watcher and stops it', async () => {
    const first = await promoteJson<{ watcher: string; runId: string }>(
      env,
      'policy',
      'watch',
      pipelineFile,
      '--interval',
      '5s',
    );
    const second = await promoteJson<{ watcher: string; runId: string }>(env, 'policy', 'watch', pipelineFile);
    expect(first.run.code).toBe(0);
    expect(first.json.watcher).toBe(watchWorkflowId('shop'));
    expect(second.json.runId).toBe(first.json.runId);

    const stop = await promote(env, 'policy', 'unwatch', pipelineFile);
    expect(stop.code).toBe(0);
    const history = await client.workflow.getHandle(watchWorkflowId('shop')).fetchHistory();
    const signals = (history.events ?? [])
      .map((event) => event.workflowExecutionSignaledEventAttributes?.signalName)
      .filter((name) => name !== undefined && name !== null);
    expect(signals).toEqual(['watchConfig', 'watchConfig', 'watchStop']);
  });
});

describe('promote serve', () => {
  it('starts a release for a notified push', async () => {
    // A registry of its own, so that no notification of the other tests is queued ahead of this one.
    const servePort = await freePort();
    const notifying = await startRegistry({
      notifications: [
        { name: 'promote', url: `http://127.0.0.1:${servePort}/notifications`, headers: { Authorization: [SECRET] } },
      ],
    });
    const servedFile = writePipelineFile(dir, 'served.yaml', pipelineYaml(notifying.host, 'served'));
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(__dirname, '..', '..', 'src', 'cli', 'main.ts'),
        'serve',
        '--pipeline',
        servedFile,
        '--listen',
        `127.0.0.1:${servePort}`,
      ],
      { cwd: join(__dirname, '..', '..'), env, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitUntil('serve to listen', () => Promise.resolve(log.includes('serving registry notifications')), 30_000);
      const image = await pushImage(
        notifying,
        'served/dev',
        { layers: [{ files: [{ path: 's', content: 'x' }] }] },
        'v4.0.0',
      );
      const digest = image.digest;
      await waitUntil('release started', async () => (await countReleases(client, 'served', digest)) === 1, 30_000);
      // Node and the Temporal SDK may print warnings of their own on stderr; the log lines are the JSON ones.
      const lines = log
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, string>);
      expect(lines).toContainEqual(
        expect.objectContaining({
          message: 'release started',
          tag: 'v4.0.0',
          workflowId: releaseWorkflowId('served', digest),
        }),
      );
    } finally {
      child.kill('SIGTERM');
      await notifying.stop();
    }
    expect(await exited).toBe(0);
  });

  it('refuses to start without the secret', async () => {
    const withoutSecret = { ...env };
    delete withoutSecret.PROMOTE_NOTIFY_SECRET;
    const run = await promote(withoutSecret, 'serve', '--pipeline', pipelineFile);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('PROMOTE_NOTIFY_SECRET is not set');
  });
});
