import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createHookActivities } from '../../activities/hooks';
import type { RunHookInput } from '../../activities/types';
import { hookSchema } from '../../src/config/schema';
import { HOOK_OUTPUT_MAX_BYTES } from '../../src/temporal/constants';
import type { HookResult } from '../../workflows/messages';
import { waitUntil } from '../../scripts/lib/ports';
import { writeScript } from '../helpers/pipelines';

const DIGEST = `sha256:${'1f'.repeat(32)}`;
let workDir: string;
let server: Server;
let serverUrl: string;
const requests: string[] = [];

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'hooks-test-'));
  server = createServer((request, response) => {
    requests.push(request.url ?? '');
    const status = Number(new URL(request.url ?? '/', 'http://x').searchParams.get('status') ?? '200');
    if (request.url?.startsWith('/slow')) {
      setTimeout(() => response.end('late'), 3000).unref();
      return;
    }
    response.writeHead(status, { 'content-type': 'text/plain' });
    response.end(`answered ${status}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(workDir, { recursive: true, force: true });
});

function hookInput(hook: Record<string, unknown>): RunHookInput {
  return {
    hook: hookSchema.parse({ name: 'check', ...hook }),
    pipeline: 'shop',
    stage: 'staging',
    release: 'release-shop-1f1f',
    repository: '127.0.0.1:5000/shop/staging',
    digest: DIGEST,
  };
}

function run(
  input: RunHookInput,
  options: Parameters<typeof createHookActivities>[0] = {},
): { environment: MockActivityEnvironment; result: Promise<HookResult> } {
  const environment = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('WARN') });
  const { runHook } = createHookActivities(options);
  return { environment, result: environment.run(runHook, input) };
}

test('command hook gets the promote variables and not the worker secrets', async () => {
  process.env.HOOK_TEST_SECRET = 'worker-only';
  try {
    const script = writeScript(workDir, 'env.sh', 'env | sort');
    const input = hookInput({ command: [script], env: { EXTRA: 'from-pipeline' } });
    const result = await run(input, { hookEnvironment: { KUBECONFIG: '/etc/kube' } }).result;

    expect(result).toMatchObject({ name: 'check', kind: 'command', passed: true, exitCode: 0, timedOut: false });
    const lines = result.output.split('\n');
    expect(lines).toContain(`PROMOTE_IMAGE=127.0.0.1:5000/shop/staging@${DIGEST}`);
    expect(lines).toContain(`PROMOTE_DIGEST=${DIGEST}`);
    expect(lines).toContain('PROMOTE_REPOSITORY=127.0.0.1:5000/shop/staging');
    expect(lines).toContain('PROMOTE_STAGE=staging');
    expect(lines).toContain('PROMOTE_PIPELINE=shop');
    expect(lines).toContain('PROMOTE_RELEASE=release-shop-1f1f');
    expect(lines).toContain('EXTRA=from-pipeline');
    expect(lines).toContain('KUBECONFIG=/etc/kube');
    expect(lines).toContain(`PATH=${process.env.PATH}`);
    expect(result.output).not.toContain('HOOK_TEST_SECRET');
  } finally {
    delete process.env.HOOK_TEST_SECRET;
  }
});

test('command hook arguments reach the program without a shell', async () => {
  const result = await run(hookInput({ command: ['/bin/echo', '$HOME; touch injected', '`id`'] })).result;
  expect(result.passed).toBe(true);
  expect(result.output).toBe('$HOME; touch injected `id`\n');
});

test('command hook failing exit code is a failed result', async () => {
  const script = writeScript(workDir, 'fail.sh', 'echo "to stdout"; echo "to stderr" >&2; exit 7');
  const result = await run(hookInput({ command: [script] })).result;
  expect(result).toMatchObject({ passed: false, exitCode: 7, timedOut: false, outputTruncated: false });
  expect(result.output).toContain('to stdout');
  expect(result.output).toContain('to stderr');
});

test('missing program is a failed result with the reason', async () => {
  const result = await run(hookInput({ command: [join(workDir, 'no-such-program')] })).result;
  expect(result.passed).toBe(false);
  expect(result.error).toContain(`could not start "${join(workDir, 'no-such-program')}"`);
  expect(result.error).toContain('ENOENT');
});

test('command hook timeout kills the whole process group', async () => {
  const marker = join(workDir, 'child-pid');
  const script = writeScript(workDir, 'hang.sh', `sleep 60 & echo $! > "${marker}"; wait`);
  const started = Date.now();
  const result = await run(hookInput({ command: [script], timeout: '300ms' })).result;

  expect(result).toMatchObject({ passed: false, timedOut: true, signal: 'SIGTERM' });
  expect(Date.now() - started).toBeLessThan(5000);
  // The orphaned `sleep` is reaped by init shortly after it dies, so poll until its PID is gone.
  const childPid = Number(readFileSync(marker, 'utf8'));
  await waitUntil('the hook child to exit', () => Promise.resolve(!isAlive(childPid)), 3000);
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('long output keeps its end within the limit', async () => {
  const script = writeScript(workDir, 'noisy.sh', 'head -c 20000 /dev/zero | tr "\\0" x; echo; echo THE-END');
  const result = await run(hookInput({ command: [script] })).result;
  expect(result.passed).toBe(true);
  expect(result.outputTruncated).toBe(true);
  expect(Buffer.byteLength(result.output)).toBe(HOOK_OUTPUT_MAX_BYTES);
  expect(result.output.endsWith('THE-END\n')).toBe(true);
});

test('cancelled command hook stops and throws the cancellation', async () => {
  const script = writeScript(workDir, 'wait.sh', 'sleep 60');
  const { environment, result } = run(hookInput({ command: [script] }));
  setTimeout(() => environment.cancel(), 300);
  const started = Date.now();
  await expect(result).rejects.toBeInstanceOf(CancelledFailure);
  expect(Date.now() - started).toBeLessThan(5000);
});

test('HTTP hook passes on 2xx and replaces placeholders in the URL', async () => {
  const result = await run(hookInput({ http: { url: `${serverUrl}/deployed?image=\${PROMOTE_IMAGE}` } })).result;
  expect(result).toMatchObject({ kind: 'http', passed: true, status: 200, output: 'answered 200' });
  expect(requests.at(-1)).toBe(`/deployed?image=${encodeURIComponent(`127.0.0.1:5000/shop/staging@${DIGEST}`)}`);
});

test('HTTP hook fails on an unexpected status', async () => {
  const failed = await run(hookInput({ http: { url: `${serverUrl}/check?status=503` } })).result;
  expect(failed).toMatchObject({ passed: false, status: 503, output: 'answered 503' });

  const expected = await run(hookInput({ http: { url: `${serverUrl}/check?status=404`, expectStatus: [404] } })).result;
  expect(expected).toMatchObject({ passed: true, status: 404 });
});

test('HTTP hook timeout and refused connection are failed results', async () => {
  const slow = await run(hookInput({ http: { url: `${serverUrl}/slow` }, timeout: '200ms' })).result;
  expect(slow).toMatchObject({ passed: false, timedOut: true, error: 'no complete response within 200 ms' });

  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const refused = await run(hookInput({ http: { url: `http://127.0.0.1:${port}/x?token=abc` } })).result;
  expect(refused.passed).toBe(false);
  expect(refused.timedOut).toBe(false);
  expect(refused.error).toContain(`GET http://127.0.0.1:${port}/x?… failed`);
  expect(refused.error).not.toContain('token=abc');
});
