/**
 * The short chaos run, as CI runs it: ten releases through four stages while workers are killed with SIGKILL, the
 * Temporal server restarts and the registry proxies fail requests. It must end with every release correct.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
/** A fixed seed keeps CI on one plan; `npm run chaos -- --short` without --seed draws a new one each time. */
const SEED = '20251204';

jest.setTimeout(420_000);

test('short chaos run ends with every release correct', async () => {
  const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'scripts', 'chaos', 'main.ts'), '--short', '--seed', SEED],
      { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        let code = 0;
        if (error !== null) {
          code = typeof error.code === 'number' ? error.code : -1;
        }
        resolve({ code, stdout, stderr });
      },
    );
  });
  const lines = run.stdout.trimEnd().split('\n');

  // On failure the message carries the report, which names each wrong release, and the end of the run's log.
  const exit = run.code === 0 ? 'exit 0' : `exit ${run.code}\n${run.stdout}\n${run.stderr.slice(-6000)}`;
  expect(exit).toBe('exit 0');
  expect(lines.at(-1)).toBe('10/10 releases correct');
  expect(run.stdout).toMatch(/^worker kills \(SIGKILL\)\s+3$/m);
  expect(run.stdout).toMatch(/^Temporal server restarts\s+1$/m);
  expect(run.stdout).toMatch(/^releases stuck\s+0$/m);
});
