/**
 * Runs `npm run demo` in a temporary demo folder: twice to its end, then once interrupted with Ctrl-C (SIGINT to
 * its whole process group, as a terminal sends it), then once more after the interruption. After each complete
 * run the registries' storage is served again by a fresh registry, so the table is checked against what the
 * registries hold, not only against the demo's own output.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalRegistry, startRegistry } from '../../scripts/lib/registry';

jest.setTimeout(600_000);

const ROOT = join(__dirname, '..', '..');
const STAGES = ['dev', 'test', 'staging', 'prod'];

interface DemoRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

interface TableRow {
  stage: string;
  reference: string;
  digest: string;
  approvedBy: string;
  release: string;
}

let demoDir: string;

/** Runs `npm run demo` in its own process group; with `interruptAt`, sends SIGINT to the group once it is printed. */
function runDemo(interruptAt?: RegExp): Promise<DemoRun> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', 'demo'], {
      cwd: ROOT,
      env: { ...process.env, PROMOTE_DEMO_DIR: demoDir },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    let interrupted = false;
    const append = (chunk: Buffer) => {
      output += chunk.toString();
      if (interruptAt && !interrupted && interruptAt.test(output)) {
        interrupted = true;
        process.kill(-child.pid!, 'SIGINT');
      }
    };
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    child.once('close', (code, signal) => resolve({ code, signal, output }));
  });
}

function parseTable(output: string): TableRow[] {
  const lines = output.split('\n');
  const header = lines.findIndex((line) => /^stage\s+environment tag\s+digest\s+approved by\s+release$/.test(line));
  expect(header).toBeGreaterThan(-1);
  return lines
    .slice(header + 1, header + 1 + STAGES.length)
    .map((line) => line.split(/\s{2,}/))
    .map(([stage, reference, digest, approvedBy, release]) => ({ stage, reference, digest, approvedBy, release }));
}

function builtDigests(output: string): string[] {
  return [...output.matchAll(/built \S+ from examples\/app[^:]*: (sha256:[0-9a-f]{64})/g)].map((match) => match[1]);
}

function pids(output: string): number[] {
  return [...output.matchAll(/\(pid (\d+)\)/g)].map((match) => Number(match[1]));
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Serves a demo registry's storage again and returns the digest a tag points at. */
async function storedTagDigest(registryName: string, repositoryAndTag: string): Promise<string | null> {
  let registry: LocalRegistry | undefined;
  try {
    registry = await startRegistry({ storageDir: join(demoDir, registryName) });
    const [repository, tag] = repositoryAndTag.split(':');
    const response = await fetch(`${registry.url}/v2/${repository}/manifests/${tag}`, {
      method: 'HEAD',
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    return response.headers.get('docker-content-digest');
  } finally {
    await registry?.stop();
  }
}

async function expectCompleteRun(run: DemoRun): Promise<TableRow[]> {
  if (run.code !== 0) {
    throw new Error(`npm run demo exited with ${run.code}:\n${run.output}`);
  }
  const rows = parseTable(run.output);
  const [good, bad] = builtDigests(run.output);
  expect(rows.map((row) => row.stage)).toEqual(STAGES);
  for (const row of rows) {
    expect(row.digest).toBe(good);
  }
  expect(bad).not.toBe(good);
  expect(rows.find((row) => row.stage === 'prod')?.approvedBy).toBe('alice');
  expect(rows.find((row) => row.stage === 'staging')?.approvedBy).toBe('(no gate)');

  const approve =
    /a person types: (npm run promote -- approve (release-app-[0-9a-f]{64}) --stage prod --as alice .*)$/m.exec(
      run.output,
    );
  expect(approve?.[2]).toBe(`release-app-${good.slice('sha256:'.length)}`);
  expect(run.output).toMatch(/staging: hook production-logging failed .* rolled back/);
  expect(run.output).toMatch(/promote rollback test: rollback-app-test-\S+ completed/);
  expect(
    run.output.match(
      /^ {2}(release|rollback)-app-\S+ {2}\S+ {2}http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\//gm,
    ),
  ).toHaveLength(3);

  expect(await storedTagDigest('registry-a', 'test/app:test')).toBe(good);
  expect(await storedTagDigest('registry-b', 'staging/app:staging')).toBe(good);
  expect(await storedTagDigest('registry-b', 'prod/app:prod')).toBe(good);
  return rows;
}

beforeAll(() => {
  demoDir = mkdtempSync(join(tmpdir(), 'promote-demo-'));
});

afterAll(() => {
  rmSync(demoDir, { recursive: true, force: true });
});

describe('npm run demo', () => {
  let first: TableRow[];

  test('releases the dev build into every stage', async () => {
    first = await expectCompleteRun(await runDemo());
  });

  test('runs again on the same folder with a new build', async () => {
    const run = await runDemo();
    const second = await expectCompleteRun(run);
    expect(second[0].digest).not.toBe(first[0].digest);
    expect(run.output).toContain('(kept from the last run)');
    expect(run.output).toMatch(/promote list: 4 releases of app .*2 failed, 2 completed/);
  });

  test('Ctrl-C stops every process it started', async () => {
    const run = await runDemo(/promote start \S+ --as ci: release-app-/);
    const started = pids(run.output);
    expect(started).toHaveLength(4);
    expect(run.output).toContain('SIGINT: stopping what the demo started');
    for (const pid of started) {
      expect(isRunning(pid)).toBe(false);
    }
    const state = JSON.parse(readFileSync(join(demoDir, 'state.json'), 'utf8')) as { finished: boolean };
    expect(state.finished).toBe(false);
  });

  test('runs again after an interrupted run', async () => {
    const run = await runDemo();
    await expectCompleteRun(run);
    expect(run.output).toMatch(/cancelled what the interrupted run left running: release-app-[0-9a-f]{64}\n/);
  });
});
