/**
 * Runs `npm run demo` in a temporary demo folder: twice to its end, then once interrupted with Ctrl-C pressed twice
 * while a release runs (SIGINT to its whole process group, as a terminal sends it), then once more after the
 * interruption. A last run with `--keep` leaves its stack up for the printed commands, until `--stop`. After
 * each complete run the registries' storage is served again by a fresh registry, so the table is checked against
 * what the registries hold, not only against the demo's own output.
 */
import { exec, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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

/** When to press Ctrl-C: once `pattern` is printed and `delayMs` more have passed, `presses` times 100 ms apart. */
interface Interruption {
  pattern: RegExp;
  delayMs: number;
  presses: number;
}

/** Runs `npm run demo -- ARGS` in its own process group; with `interrupt`, sends SIGINT to the group. */
function runDemo(args: string[] = [], interrupt?: Interruption): Promise<DemoRun> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', 'demo', '--', ...args], {
      cwd: ROOT,
      env: { ...process.env, PROMOTE_DEMO_DIR: demoDir },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    let interrupted = false;
    const press = (remaining: number) => {
      try {
        process.kill(-child.pid!, 'SIGINT');
      } catch {
        return; // The group has exited already.
      }
      if (remaining > 1) {
        setTimeout(() => press(remaining - 1), 100);
      }
    };
    const append = (chunk: Buffer) => {
      output += chunk.toString();
      if (interrupt && !interrupted && interrupt.pattern.test(output)) {
        interrupted = true;
        setTimeout(() => press(interrupt.presses), interrupt.delayMs);
      }
    };
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    child.once('close', (code, signal) => resolve({ code, signal, output }));
  });
}

/** Runs a command line printed by the demo in a shell, the way a person pastes it. */
function runPrinted(command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    exec(command, { cwd: ROOT, env: { ...process.env, PROMOTE_DEMO_DIR: demoDir } }, (error, stdout, stderr) => {
      let code = 0;
      if (error !== null) {
        code = typeof error.code === 'number' ? error.code : -1;
      }
      resolve({ code, stdout, stderr });
    });
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

/** True while `pid` runs; a zombie (ended, not yet reaped by its new parent) does not count. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Returns the running processes whose environment names the demo folder (npm, the demo, the worker, the server and
 * the registries inherit it) or one of `releases` (the worker sets PROMOTE_RELEASE for hooks).
 */
function demoProcesses(releases: string[]): string[] {
  const markers = [`PROMOTE_DEMO_DIR=${demoDir}`, ...releases.map((release) => `PROMOTE_RELEASE=${release}`)];
  const found: string[] = [];
  for (const name of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      const environment = readFileSync(`/proc/${name}/environ`, 'utf8').split('\0');
      if (markers.some((marker) => environment.includes(marker)) && isRunning(Number(name))) {
        found.push(`${name}: ${readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ')}`);
      }
    } catch {
      // The process ended while it was read, or belongs to another user.
    }
  }
  return found;
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
    /a person types: (npm run -s promote -- approve (release-app-[0-9a-f]{64}) --stage prod --as alice .*)$/m.exec(
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

  test('Ctrl-C during a release stops every process', async () => {
    // Staging's hook runs half a second after test's line; the second press is what a wrapper relays, or an
    // impatient person types.
    const run = await runDemo([], { pattern: /\] test: \S+ now sha256:/, delayMs: 500, presses: 2 });
    const started = pids(run.output);
    expect(started).toHaveLength(4);
    expect(run.output).toContain('SIGINT: stopping what the demo started');
    expect(run.output).not.toContain('waits for approval by');
    for (const pid of started) {
      expect({ pid, running: isRunning(pid) }).toEqual({ pid, running: false });
    }
    expect(run.output).toMatch(/--as ci: release-app-[0-9a-f]{64}/);
    // NOTE: a hook that the worker was running can outlive the worker for a few seconds in its own process group.
    // This checks only the processes the demo started, because demoProcesses([release]) would list that hook.
    expect(demoProcesses([])).toEqual([]);
    const state = JSON.parse(readFileSync(join(demoDir, 'state.json'), 'utf8')) as { finished: boolean };
    expect(state.finished).toBe(false);
  });

  test('runs again after an interrupted run', async () => {
    const run = await runDemo();
    await expectCompleteRun(run);
    expect(run.output).toMatch(/cancelled what the interrupted run left running: release-app-[0-9a-f]{64}\n/);
  });

  test('--keep leaves a stack the printed commands use', async () => {
    const run = await runDemo(['--keep']);
    const rows = await expectCompleteRun(run);
    const kept = /kept running: .* \(pids ([\d, ]+)\)$/m.exec(run.output);
    expect(kept).not.toBeNull();
    const keptPids = kept![1].split(', ').map(Number);
    expect(keptPids).toHaveLength(4);
    try {
      for (const pid of keptPids) {
        expect({ pid, running: isRunning(pid) }).toEqual({ pid, running: true });
      }
      const status = /^ {2}(npm run -s promote -- status \S+) (--address \S+)$/m.exec(run.output);
      expect(status).not.toBeNull();
      const shown = await runPrinted(`${status![1]} --json ${status![2]}`);
      expect(shown.stderr).toBe('');
      expect(JSON.parse(shown.stdout)).toMatchObject({ releaseId: rows[0].release, state: 'completed' });

      const list = /^ {2}(npm run -s promote -- list .*--json.*)$/m.exec(run.output);
      expect(list).not.toBeNull();
      const listed = await runPrinted(list![1]);
      const releases = JSON.parse(listed.stdout) as { releaseId: string }[];
      expect(releases.map((release) => release.releaseId)).toContain(rows[0].release);
      expect(run.output).toMatch(/Stop it with: PROMOTE_DEMO_DIR=\S+ npm run demo -- --stop/);
    } finally {
      const stopped = await runDemo(['--stop']);
      expect(stopped.output).toMatch(/stopped worker \(pid \d+\), temporal/);
      expect(stopped.code).toBe(0);
    }
    for (const pid of keptPids) {
      expect({ pid, running: isRunning(pid) }).toEqual({ pid, running: false });
    }
    expect(demoProcesses([])).toEqual([]);
  });
});
