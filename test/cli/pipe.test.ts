/** `promote` writing into a pipe whose reader has gone, as in `promote history | head -1`. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

test('closed stdout ends the command quietly', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), '--help'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The reader goes away before the command writes anything, so every write meets a closed pipe.
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));

  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));

  expect(stderr).toBe('');
  expect(code).toBe(0);
});
