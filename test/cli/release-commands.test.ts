/**
 * Every release subcommand of `promote`, run as a child process against a real Temporal dev server, a real
 * registry and a `promote worker` child. The tests share one pipeline and run in order: each release builds on
 * the ledger the ones before it left.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, type Connection } from '@temporalio/client';
import { pushImage, pushManifest } from '../../scripts/lib/images';
import { waitUntil } from '../../scripts/lib/ports';
import { type LocalRegistry, startRegistry } from '../../scripts/lib/registry';
import { type LocalTemporalServer, startTemporalServer } from '../../scripts/lib/temporal-server';
import { ROLLBACK_WORKFLOW_TYPE } from '../../src/temporal/constants';
import type { ApprovalResult, LedgerEntry, ReleaseStatus, RollbackStatus } from '../../workflows/messages';
import { tagDigest } from '../helpers/pipelines';
import { connectTemporal, isFinished, waitForRelease } from '../helpers/temporal';
import {
  promote,
  promoteEnvironment,
  promoteFollowing,
  promoteJson,
  type PromoteWorker,
  startPromoteWorker,
} from './promote-process';

jest.setTimeout(120_000);

let dir: string;
let server: LocalTemporalServer;
let registry: LocalRegistry;
let connection: Connection;
let client: Client;
let worker: PromoteWorker;
let env: NodeJS.ProcessEnv;
let pipelineFile: string;
const digests: string[] = [];

function releaseId(digest: string): string {
  return `release-web-${digest.replace('sha256:', '')}`;
}

async function pushVersion(version: string): Promise<string> {
  const image = await pushImage(
    registry,
    'web/dev',
    { layers: [{ files: [{ path: 'app', content: version }] }] },
    'latest',
  );
  digests.push(image.digest);
  return image.digest;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'promote-cli-'));
  [server, registry] = await Promise.all([startTemporalServer(), startRegistry()]);
  connection = await connectTemporal(server.address);
  client = new Client({ connection });
  env = promoteEnvironment(server.address);
  pipelineFile = join(dir, 'web.yaml');
  writeFileSync(
    pipelineFile,
    `name: web
stages:
  - name: dev
    repository: ${registry.host}/web/dev
    environmentTag: dev
  - name: test
    repository: ${registry.host}/web/test
    environmentTag: test
    tags: ["sha-%s"]
    hooks:
      - name: smoke
        command: ["sh", "-c", "test -n \\"$PROMOTE_IMAGE\\" && echo checked $PROMOTE_IMAGE"]
  - name: prod
    repository: ${registry.host}/web/prod
    environmentTag: prod
    approval:
      approvers: [alice, bob, ci-bot]
      timeout: 10m
`,
  );
  worker = await startPromoteWorker(env);
});

afterAll(async () => {
  await worker?.stop();
  await connection?.close();
  await Promise.all([server?.stop(), registry?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('promote start', () => {
  it('prints the release ID and the digest', async () => {
    const digest = await pushVersion('v1');

    const run = await promote(env, 'start', '--pipeline', pipelineFile);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      [
        `release     ${releaseId(digest)}`,
        `digest      ${digest}`,
        `source      ${registry.host}/web/dev:latest@${digest}`,
        'started by  ci-bot',
        '',
      ].join('\n'),
    );
  });

  it('attaches to the running release of the same digest', async () => {
    const { run, json } = await promoteJson<{ workflowId: string; digest: string; existing: boolean }>(
      env,
      'start',
      '--pipeline',
      pipelineFile,
      `${registry.host}/web/dev@${digests[0]}`,
    );
    expect(run.code).toBe(0);
    expect(json.workflowId).toBe(releaseId(digests[0]));
    expect(json.digest).toBe(digests[0]);
    expect(json.existing).toBe(true);
  });
});

describe('promote status', () => {
  it('shows stages, tags and hooks as text', async () => {
    await waitForRelease(client, releaseId(digests[0]), (s) => s.state === 'awaiting-approval', 'prod approval');

    const run = await promote(env, 'status', releaseId(digests[0]));

    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`release   ${releaseId(digests[0])}\n`);
    expect(run.stdout).toContain('state     awaiting-approval\n');
    expect(run.stdout).toContain('step      waiting for approval of prod\n');
    expect(run.stdout).toMatch(/started {3}\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ by ci-bot\n/);
    expect(run.stdout).toMatch(/^STAGE +STATE +APPROVALS +PREVIOUS +TAGS +HOOKS +FINISHED$/m);
    expect(run.stdout).toMatch(
      new RegExp(`^test +promoted +- +- +test,sha-${digests[0].slice(7, 19)} +smoke:passed `, 'm'),
    );
    expect(run.stdout).toMatch(/^prod +awaiting-approval +0\/1 +- +- +- +-$/m);
  });

  it('prints the status query result under --json', async () => {
    const { run, json } = await promoteJson<ReleaseStatus>(env, 'status', releaseId(digests[0]));
    expect(run.code).toBe(0);
    expect(json.releaseId).toBe(releaseId(digests[0]));
    expect(json.digest).toBe(digests[0]);
    expect(json.state).toBe('awaiting-approval');
    expect(json.startedBy).toBe('ci-bot');
    expect(json.stages.map((stage) => [stage.name, stage.state])).toEqual([
      ['test', 'promoted'],
      ['prod', 'awaiting-approval'],
    ]);
    expect(json.stages[0].hooks[0].output).toContain(`checked ${registry.host}/web/test@${digests[0]}`);
  });

  it("shows the last lines of a failed hook's output as text", async () => {
    const failingFile = join(dir, 'failing.yaml');
    writeFileSync(
      failingFile,
      `name: failing
stages:
  - name: dev
    repository: ${registry.host}/failing/dev
    environmentTag: dev
  - name: test
    repository: ${registry.host}/failing/test
    environmentTag: test
    hooks:
      - name: check
        command: ["sh", "-c", "for n in 1 2 3 4; do echo line $n >&2; done; echo failing on purpose >&2; exit 7"]
`,
    );
    const image = await pushImage(
      registry,
      'failing/dev',
      { layers: [{ files: [{ path: 'app', content: 'f' }] }] },
      'latest',
    );
    const id = `release-failing-${image.digest.replace('sha256:', '')}`;
    expect((await promote(env, 'start', '--pipeline', failingFile)).code).toBe(0);
    await waitForRelease(client, id, isFinished, 'the failing release to end', 60_000);

    const run = await promote(env, 'status', id);

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^test failure +hook check failed \(exit code 7\)$/m);
    const lines = run.stdout.split('\n');
    const first = lines.findIndex((line) => /^hook check output +line 3$/.test(line));
    expect(first).toBeGreaterThan(0);
    expect(lines.slice(first + 1, first + 4)).toEqual([
      expect.stringMatching(/^ +line 4$/),
      expect.stringMatching(/^ +failing on purpose$/),
      expect.stringMatching(new RegExp(`^ +\\(earlier lines: promote status ${id} --json\\)$`)),
    ]);
    expect(run.stdout).not.toMatch(/^ +line 2$/m);
  });
});

describe('promote approve', () => {
  it('exits 2 with the reason for a person who is not an approver', async () => {
    const run = await promote(env, 'approve', releaseId(digests[0]), '--as', 'mallory');
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('promote: "mallory" is not an approver of stage "prod"; approvers: alice, bob, ci-bot\n');
  });

  it('exits 2 with a JSON error for the person who started the release', async () => {
    const { run, json } = await promoteJson<{ error: { message: string; exitCode: number } }>(
      env,
      'approve',
      releaseId(digests[0]),
      '--stage',
      'prod',
    );
    expect(run.code).toBe(2);
    expect(json.error.exitCode).toBe(2);
    expect(json.error.message).toBe('"ci-bot" started this workflow and stage "prod" does not allow self-approval');
  });

  it('exits 2 for another digest', async () => {
    const other = `sha256:${'0'.repeat(64)}`;
    const run = await promote(env, 'approve', releaseId(digests[0]), '--as', 'bob', '--digest', other);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(other);
  });

  it("exits 2 for a digest prefix that is not the release's", async () => {
    const run = await promote(env, 'approve', releaseId(digests[0]), '--as', 'bob', '--digest', 'sha256:000000000000');
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `promote: --digest sha256:000000000000 matches no digest in release ${releaseId(digests[0])}, ` +
        `whose digest is ${digests[0]}\n`,
    );
  });

  it('reports an accepted approval as JSON and the release completes', async () => {
    const { run, json } = await promoteJson<{
      accepted: boolean;
      result: ApprovalResult;
      stage: string;
      digest: string;
    }>(
      env,
      'approve',
      releaseId(digests[0]),
      '--as',
      'alice',
      '--comment',
      'smoke tests passed',
      '--digest',
      digests[0].slice(0, 19),
    );
    expect(run.code).toBe(0);
    expect(json.accepted).toBe(true);
    expect(json.stage).toBe('prod');
    expect(json.digest).toBe(digests[0]);
    expect(json.result).toEqual({ stage: 'prod', decision: 'approved', approvals: 1, required: 1 });

    const final = await waitForRelease(client, releaseId(digests[0]), isFinished, 'release end');
    expect(final.state).toBe('completed');
    expect(await tagDigest(registry.url, 'web/prod', 'prod')).toBe(digests[0]);
  });

  it('reads a finished release from its result', async () => {
    const { run, json } = await promoteJson<ReleaseStatus>(env, 'status', releaseId(digests[0]));
    expect(run.code).toBe(0);
    expect(json.state).toBe('completed');
    expect(json.stages[1].approvals).toEqual([
      expect.objectContaining({ person: 'alice', decision: 'approved', comment: 'smoke tests passed' }),
    ]);
  });
});

describe('promote start --wait', () => {
  it('follows a release to completion and exits 0', async () => {
    const digest = await pushVersion('v2');
    const waiting = promoteFollowing(env, 'start', '--pipeline', pipelineFile, '--wait', '--as', 'carol');
    await waitForRelease(client, releaseId(digest), (s) => s.state === 'awaiting-approval', 'prod approval', 60_000);
    // --wait reads the status once a second; approving only after it printed the wait keeps that line in its output.
    await waitUntil(
      'start --wait to print the approval wait',
      () => Promise.resolve(waiting.stdout().includes('awaiting-approval: waiting for approval of prod\n')),
      60_000,
    );

    const approval = await promote(
      env,
      'approve',
      '--pipeline',
      pipelineFile,
      '--digest',
      digest,
      '--as',
      'bob',
      '--no-wait',
    );
    expect(approval.code).toBe(0);
    expect(approval.stdout).toContain(`approve sent  ${releaseId(digest)} stage prod as bob\n`);

    const run = await waiting.done;
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('awaiting-approval: waiting for approval of prod\n');
    expect(run.stdout).toContain('\nstate     completed\n');
    expect(run.stdout).toMatch(/^prod +promoted +1\/1 bob /m);
    expect(await tagDigest(registry.url, 'web/prod', 'prod')).toBe(digest);
  });

  it('exits 1 with the final status as JSON when the release is rejected', async () => {
    const digest = await pushVersion('v3');
    const waiting = promoteJson<{ workflowId: string; status: ReleaseStatus }>(
      env,
      'start',
      '--pipeline',
      pipelineFile,
      '--wait',
      '--as',
      'carol',
    );
    await waitForRelease(client, releaseId(digest), (s) => s.state === 'awaiting-approval', 'prod approval', 60_000);

    const rejection = await promote(env, 'reject', releaseId(digest), '--as', 'alice', '--comment', 'wrong build');
    expect(rejection.code).toBe(0);
    expect(rejection.stdout).toContain(`rejected   ${releaseId(digest)} stage prod as alice\n`);

    const { run, json } = await waiting;
    expect(run.code).toBe(1);
    expect(json.workflowId).toBe(releaseId(digest));
    expect(json.status.state).toBe('rejected');
    expect(json.status.failure).toBe('alice rejected stage prod: wrong build');
    expect(await tagDigest(registry.url, 'web/prod', 'prod')).toBe(digests[1]);
  });
});

describe('promote list', () => {
  it('shows releases as a table', async () => {
    // Visibility records follow a workflow's search attributes about a second later.
    await waitUntil('the rejection to reach visibility', async () => {
      const listed = await promoteJson<{ state: string }[]>(env, 'list', '--state', 'rejected');
      return listed.json.length === 1;
    });

    const run = await promote(env, 'list', '--pipeline', pipelineFile);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID +KIND +STATE +STAGE +DIGEST +STARTED +CLOSED$/);
    expect(lines).toHaveLength(4);
    expect(run.stdout).toMatch(
      new RegExp(`^${releaseId(digests[2])} +release +rejected +prod +${digests[2].slice(0, 19)} `, 'm'),
    );
    expect(run.stdout).toMatch(new RegExp(`^${releaseId(digests[0])} +release +completed +prod `, 'm'));
  });

  it('filters by state under --json', async () => {
    const { run, json } = await promoteJson<{ releaseId: string; state: string; digest: string }[]>(
      env,
      'list',
      '--state',
      'completed',
    );
    expect(run.code).toBe(0);
    expect(json.map((release) => release.releaseId).sort()).toEqual(
      [releaseId(digests[0]), releaseId(digests[1])].sort(),
    );
    expect(json.every((release) => release.state === 'completed')).toBe(true);
  });

  it('names the filters that matched nothing', async () => {
    const run = await promote(env, 'list', '--pipeline', pipelineFile, '--state', 'expired');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('no releases or rollbacks of pipeline web in state expired in namespace default\n');

    const rollbacks = await promote(env, 'list', '--kind', 'rollback', '--state', 'waiting-for-lock');
    expect(rollbacks.stdout).toBe('no rollbacks in state waiting-for-lock in namespace default\n');
  });

  it('exits 2 for an unknown state', async () => {
    const run = await promote(env, 'list', '--state', 'done');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('expected one of running, awaiting-approval, waiting-for-lock, completed');
  });
});

describe('promote history', () => {
  it("shows a stage's ledger as a table", async () => {
    const run = await promote(env, 'history', '--pipeline', pipelineFile, 'prod');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`prod in ${registry.host}/web/prod is ${digests[1]} since `);
    expect(run.stdout).toMatch(/^AT +KIND +DIGEST +TAG AFTER +PREVIOUS +BY +APPROVED BY +HOOKS +WORKFLOW +REASON$/m);
    expect(run.stdout).toMatch(
      new RegExp(`promoted +${digests[0].slice(0, 19)} +${digests[0].slice(0, 19)} +- +ci-bot +alice `),
    );
    expect(run.stdout).toMatch(
      new RegExp(
        `promoted +${digests[1].slice(0, 19)} +${digests[1].slice(0, 19)} +${digests[0].slice(0, 19)} +carol +bob `,
      ),
    );
  });

  it('prints the entries under --json', async () => {
    const { run, json } = await promoteJson<{ stage: string; entries: LedgerEntry[] }>(
      env,
      'history',
      '--pipeline',
      pipelineFile,
      'test',
    );
    expect(run.code).toBe(0);
    expect(json.stage).toBe('test');
    expect(json.entries.map((entry) => [entry.kind, entry.digest])).toEqual(
      digests.map((digest) => ['promoted', digest]),
    );
    expect(json.entries[0].hooks[0]).toEqual(expect.objectContaining({ name: 'smoke', passed: true }));
  });

  it('names a tag that was moved outside image-promoter', async () => {
    const manifestType = 'application/vnd.oci.image.manifest.v1+json';
    const moveTestTag = async (digest: string) => {
      const response = await fetch(`${registry.url}/v2/web/test/manifests/${digest}`, {
        headers: { accept: manifestType },
      });
      const bytes = Buffer.from(await response.arrayBuffer());
      await pushManifest(registry, 'web/test', bytes, manifestType, 'test');
    };
    const before = await tagDigest(registry.url, 'web/test', 'test');
    expect(before).not.toBe(digests[0]);
    await moveTestTag(digests[0]);

    try {
      const run = await promote(env, 'history', '--pipeline', pipelineFile, 'test');
      const { json } = await promoteJson<{ tagNow: unknown }>(env, 'history', '--pipeline', pipelineFile, 'test');

      expect(run.code).toBe(0);
      expect(run.stdout).toContain(
        `test in ${registry.host}/web/test is ${digests[0]} in the registry, but the ledger's last entry left it ` +
          `at ${before} since `,
      );
      expect(run.stdout).toContain('; it was changed outside image-promoter');
      expect(json.tagNow).toEqual({ digest: digests[0] });
    } finally {
      await moveTestTag(before!);
    }
  });
});

describe('promote rollback', () => {
  it('rolls prod back to the last good digest after approval', async () => {
    const { run, json } = await promoteJson<{ rollbackId: string; stage: string }>(
      env,
      'rollback',
      '--pipeline',
      pipelineFile,
      'prod',
      '--as',
      'carol',
      '--reason',
      'v2 leaks memory',
    );
    expect(run.code).toBe(0);
    expect(json.rollbackId).toMatch(/^rollback-web-prod-/);
    expect(json.stage).toBe('prod');

    const following = promote(env, 'status', json.rollbackId, '--watch');
    let status: RollbackStatus | undefined;
    for (let attempt = 0; attempt < 100 && status?.state !== 'awaiting-approval'; attempt += 1) {
      status = (await promoteJson<RollbackStatus>(env, 'status', json.rollbackId)).json;
    }
    expect(status?.targetDigest).toBe(digests[0]);

    const approval = await promote(env, 'approve', json.rollbackId, '--as', 'bob', '--digest', digests[0].slice(0, 19));
    expect(approval.code).toBe(0);
    expect(approval.stdout).toContain(`approved   ${json.rollbackId} stage prod as bob\n`);

    const watched = await following;
    expect(watched.code).toBe(0);
    expect(watched.stdout).toContain('state      completed\n');
    expect(watched.stdout).toContain(`target     ${digests[0]}\n`);
    expect(watched.stdout).toContain(`previous   ${digests[1]}\n`);
    expect(await tagDigest(registry.url, 'web/prod', 'prod')).toBe(digests[0]);

    const history = await promoteJson<{ entries: LedgerEntry[] }>(env, 'history', '--pipeline', pipelineFile, 'prod');
    const last = history.json.entries[history.json.entries.length - 1];
    expect(last).toEqual(
      expect.objectContaining({ kind: 'manual-rollback', digest: digests[0], previousDigest: digests[1], by: 'carol' }),
    );
  });

  it('prints the rollback ID and the approval it needs as text', async () => {
    const run = await promote(env, 'rollback', '--pipeline', pipelineFile, 'prod', '--to', digests[1].slice(0, 19));
    expect(run.code).toBe(0);
    const id = /^rollback {2}(rollback-web-prod-\S+)$/m.exec(run.stdout)?.[1];
    expect(id).toBeDefined();
    expect(run.stdout).toContain(`target    ${digests[1]}\n`);
    expect(run.stdout).toContain(`approval  needs 1 of alice, bob, ci-bot: promote approve ${id} --stage prod`);

    // Visibility records follow a workflow's search attributes about a second later.
    let waiting: { kind: string; workflowId: string; rollbackId?: string; digest?: string }[] = [];
    await waitUntil('the waiting rollback to reach visibility', async () => {
      waiting = (await promoteJson<typeof waiting>(env, 'list', '--state', 'awaiting-approval')).json;
      return waiting.length === 1;
    });
    expect(waiting[0]).toEqual(
      expect.objectContaining({ kind: 'rollback', workflowId: id, rollbackId: id, digest: digests[1] }),
    );
    const table = await promote(env, 'list', '--state', 'awaiting-approval');
    expect(table.stdout).toMatch(
      new RegExp(`^${id} +rollback +awaiting-approval +prod +${digests[1].slice(0, 19)} `, 'm'),
    );

    const rejection = await promote(env, 'reject', id!, '--as', 'alice', '--digest', digests[1]);
    expect(rejection.code).toBe(0);
  });

  it('exits 2 without starting a workflow for a target the ledger rules out', async () => {
    const rollbacks = `WorkflowType = '${ROLLBACK_WORKFLOW_TYPE}'`;
    const before = (await client.workflow.count(rollbacks)).count;
    const unknown = `sha256:${'0'.repeat(64)}`;
    const cases: [string[], string][] = [
      [['--to', unknown, '--wait'], `digest ${unknown} does not appear in the ledger`],
      [['--to', digests[0]], `the environment tag already points at ${digests[0]}`],
      [[], `no promoted digest other than ${digests[0]} precedes it in the ledger`],
      [['--to', 'sha256:000000000000'], '--to sha256:000000000000 matches no digest in the ledger'],
    ];
    for (const [flags, reason] of cases) {
      const run = await promote(env, 'rollback', '--pipeline', pipelineFile, 'prod', ...flags);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`promote: cannot roll back web/prod: ${reason}`);
      expect(run.stdout).toBe('');
    }
    const short = await promote(env, 'rollback', '--pipeline', pipelineFile, 'prod', '--to', digests[0].slice(0, 15));
    expect(short.code).toBe(2);
    expect(short.stderr).toContain(`promote: --to ${digests[0].slice(0, 15)}: a digest prefix needs at least 12 hex`);
    expect((await client.workflow.count(rollbacks)).count).toBe(before);
  });
});

describe('promote worker', () => {
  it('logs one line per entry, without colour codes', () => {
    const lines = worker.output().split('\n');
    const started = lines.filter((line) => line.includes(' INFO Release started '));
    expect(started.length).toBeGreaterThan(0);
    expect(started[0]).toMatch(/ workflowId=release-web-[0-9a-f]{64} .* pipeline=web digest=sha256:[0-9a-f]{64} /);
    expect(worker.output()).not.toContain('\u001b[');
  });

  it('stops cleanly on SIGTERM', async () => {
    const result = await worker.stop();
    expect(result).toEqual({ code: 0, signal: null });
    expect(worker.output()).toContain('INFO Worker stopped taskQueue=image-promoter');
  });

  it('logs JSON lines with --json', async () => {
    const jsonWorker = await startPromoteWorker(env, '--json');
    const result = await jsonWorker.stop();
    const lines = jsonWorker.output().trim().split('\n');

    expect(result).toEqual({ code: 0, signal: null });
    const entries = lines.map((line) => JSON.parse(line) as { level: string; message: string; taskQueue?: string });
    expect(entries.map((entry) => entry.message)).toEqual(expect.arrayContaining(['Worker started', 'Worker stopped']));
    expect(entries.find((entry) => entry.message === 'Worker started')).toMatchObject({
      level: 'INFO',
      taskQueue: 'image-promoter',
    });
  });
});
