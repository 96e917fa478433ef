/**
 * The example hook examples/hooks/check-image-file.ts run by the worker's hook activity against a registry that
 * requires a password, with the credentials in a docker config that the worker finds through DOCKER_CONFIG.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DefaultLogger } from '@temporalio/worker';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createHookActivities } from '../../activities/hooks';
import type { RunHookInput } from '../../activities/types';
import type { HookResult } from '../../workflows/messages';
import { hookSchema } from '../../src/config/schema';
import { pushImage } from '../../scripts/lib/images';
import { type LocalRegistry, startRegistry } from '../../scripts/lib/registry';

jest.setTimeout(60_000);

const ROOT = join(__dirname, '..', '..');
const HOOK = join(ROOT, 'examples', 'hooks', 'check-image-file.ts');
const REPOSITORY = 'team/app';

let source: LocalRegistry;
let locked: LocalRegistry;
let dockerConfig: string;
let digest: string;

/** Copies an image with `promote copy`, which reads the credentials from DOCKER_CONFIG like the worker. */
function promoteCopy(from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), 'copy', from, to],
      { cwd: ROOT, env: { ...process.env, DOCKER_CONFIG: dockerConfig } },
      (error, stdout, stderr) => (error ? reject(new Error(`promote copy failed: ${stderr}${stdout}`)) : resolve()),
    );
  });
}

function hookInput(): RunHookInput {
  return {
    hook: hookSchema.parse({
      name: 'has-version',
      command: [process.execPath, '--import', 'tsx', HOOK, '--file', 'app/VERSION', '--contains', '7'],
      timeout: '30s',
    }),
    pipeline: 'app',
    stage: 'test',
    release: 'release-app-test',
    repository: `${locked.host}/${REPOSITORY}`,
    digest,
  };
}

async function runHookWith(workerDockerConfig: string | undefined): Promise<HookResult> {
  const saved = process.env.DOCKER_CONFIG;
  if (workerDockerConfig === undefined) {
    delete process.env.DOCKER_CONFIG;
  } else {
    process.env.DOCKER_CONFIG = workerDockerConfig;
  }
  try {
    const environment = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('WARN') });
    const { runHook } = createHookActivities();
    return await environment.run<[RunHookInput], HookResult, typeof runHook>(runHook, hookInput());
  } finally {
    if (saved === undefined) {
      delete process.env.DOCKER_CONFIG;
    } else {
      process.env.DOCKER_CONFIG = saved;
    }
  }
}

beforeAll(async () => {
  [source, locked] = await Promise.all([startRegistry(), startRegistry({ users: { ci: 'pushed-by-ci' } })]);
  dockerConfig = mkdtempSync(join(tmpdir(), 'promote-docker-config-'));
  const auth = Buffer.from('ci:pushed-by-ci').toString('base64');
  writeFileSync(join(dockerConfig, 'config.json'), JSON.stringify({ auths: { [locked.host]: { auth } } }));

  const app = await pushImage(source, REPOSITORY, { layers: [{ files: [{ path: 'app/VERSION', content: '7\n' }] }] });
  digest = app.digest;
  await promoteCopy(app.reference, `${locked.host}/${REPOSITORY}:7`);
});

afterAll(async () => {
  await Promise.all([source?.stop(), locked?.stop()]);
  rmSync(dockerConfig, { recursive: true, force: true });
});

test('hook reads the worker DOCKER_CONFIG credentials', async () => {
  const result = await runHookWith(dockerConfig);
  expect(result.output).toContain('found app/VERSION');
  expect(result.exitCode).toBe(0);
  expect(result.passed).toBe(true);
});

test('hook without DOCKER_CONFIG gets 401', async () => {
  const result = await runHookWith(undefined);
  expect(result.output).toMatch(/401|unauthorized|authentication/i);
  expect(result.exitCode).toBe(2);
  expect(result.passed).toBe(false);
});
