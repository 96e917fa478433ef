/**
 * The example test hook examples/hooks/check-image-file.ts, run as the worker runs it (a child process with
 * PROMOTE_IMAGE set) against images in a real registry.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { pushImage, pushMultiPlatformImage, type PushedManifest } from '../../scripts/lib/images';
import { type LocalRegistry, startRegistry } from '../../scripts/lib/registry';

const ROOT = join(__dirname, '..', '..');
const HOOK = join(ROOT, 'examples', 'hooks', 'check-image-file.ts');

let registry: LocalRegistry;
let app: PushedManifest;

interface HookRun {
  code: number;
  output: string;
}

function runHook(image: string, ...args: string[]): Promise<HookRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', HOOK, ...args],
      { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, PROMOTE_IMAGE: image } },
      (error, stdout, stderr) => {
        let code = 0;
        if (error !== null) {
          code = typeof error.code === 'number' ? error.code : -1;
        }
        resolve({ code, output: stdout + stderr });
      },
    );
  });
}

beforeAll(async () => {
  registry = await startRegistry();
  app = await pushImage(registry, 'team/app', {
    layers: [
      {
        files: [
          { path: 'app/config.json', content: '{ "logLevel": "info" }\n' },
          { path: 'app/VERSION', content: '1\n' },
        ],
      },
      {
        files: [
          { path: 'app/VERSION', content: '2\n' },
          { path: 'app/.wh.config.json', content: '' },
        ],
      },
      // A large file in the top layer, which the hook must skip through to reach the layers below.
      { randomBytes: 3 * 1024 * 1024, path: 'data/random.bin' },
    ],
  });
}, 30_000);

afterAll(async () => {
  await registry?.stop();
});

test('file present passes', async () => {
  const run = await runHook(app.reference, '--file', 'app/VERSION');
  expect(run.output).toContain('found app/VERSION (2 bytes)');
  expect(run.code).toBe(0);
});

test('topmost layer wins', async () => {
  const run = await runHook(app.reference, '--file', '/app/VERSION', '--contains', '2');
  expect(run.output).toContain(`in layer ${app.blobs[2].digest}`);
  expect(run.code).toBe(0);
});

test('missing text fails', async () => {
  const run = await runHook(app.reference, '--file', 'app/VERSION', '--contains', '1', '--contains', '2');
  expect(run.output).toContain('FAIL does not contain 1');
  expect(run.output).toContain('ok   contains 2');
  expect(run.code).toBe(1);
});

test('missing file fails', async () => {
  const run = await runHook(app.reference, '--file', 'app/absent.txt');
  expect(run.output).toContain('FAIL app/absent.txt is not in');
  expect(run.code).toBe(1);
});

test('whiteout deletes a lower file', async () => {
  const run = await runHook(app.reference, '--file', 'app/config.json');
  expect(run.output).toContain('FAIL app/config.json is not in');
  expect(run.code).toBe(1);
});

test('index picks the requested platform', async () => {
  const index = await pushMultiPlatformImage(registry, 'team/multi');
  const arm = await runHook(index.reference, '--file', 'app/arm64', '--platform', 'linux/arm64');
  expect(arm.code).toBe(0);
  const amd = await runHook(index.reference, '--file', 'app/arm64');
  expect(amd.code).toBe(1);
  const missing = await runHook(index.reference, '--file', 'app/arm64', '--platform', 'linux/s390x');
  expect(missing.output).toContain('has no manifest for linux/s390x');
  expect(missing.code).toBe(2);
});

test('missing --file is a usage error', async () => {
  const run = await runHook(app.reference, '--contains', 'x');
  expect(run.output).toContain('missing --file PATH');
  expect(run.code).toBe(2);
});

test('unknown digest is a read error', async () => {
  const unknown = `${registry.host}/team/app@sha256:${'0'.repeat(64)}`;
  const run = await runHook(unknown, '--file', 'app/VERSION');
  expect(run.output).toContain(`cannot read ${unknown}`);
  expect(run.code).toBe(2);
});
