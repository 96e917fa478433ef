/**
 * Errors of the setup around a command, rather than of its arguments: credentials, addresses, ports and a
 * namespace without the search attributes. Each exits with the documented code, and with --json prints one
 * `{"error":{...}}` object on stdout as well as the message on stderr.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pushMultiPlatformImage } from '../../scripts/lib/images';
import { freePort } from '../../scripts/lib/ports';
import { type LocalRegistry, startRegistry } from '../../scripts/lib/registry';
import { type LocalTemporalServer, startTemporalServer } from '../../scripts/lib/temporal-server';
import { promote, promoteEnvironment, type PromoteRun, startPromoteWorker } from './promote-process';

jest.setTimeout(90_000);

interface ErrorDocument {
  error: { message: string; exitCode: number };
}

let dir: string;
let registry: LocalRegistry;
let protectedRegistry: LocalRegistry;

function jsonError(run: PromoteRun): ErrorDocument['error'] {
  return (JSON.parse(run.stdout) as ErrorDocument).error;
}

/** An environment whose docker config file has the given text. */
function withDockerConfig(text: string): NodeJS.ProcessEnv {
  const env = promoteEnvironment('127.0.0.1:1');
  writeFileSync(join(env.DOCKER_CONFIG!, 'config.json'), text);
  return env;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'promote-setup-errors-'));
  [registry, protectedRegistry] = await Promise.all([startRegistry(), startRegistry({ users: { alice: 'secret' } })]);
});

afterAll(async () => {
  await Promise.all([registry?.stop(), protectedRegistry?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('credentials', () => {
  it('exits 2 for a docker config that is not JSON', async () => {
    const env = withDockerConfig('{"auths": ');
    const run = await promote(env, 'copy', '--json', `${protectedRegistry.host}/team/app:1`, `${registry.host}/t/a:1`);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('config.json is not valid JSON; fix or remove it');
    expect(jsonError(run)).toEqual({ message: expect.stringContaining('is not valid JSON') as string, exitCode: 2 });
  });

  it('worker exits 2 at start for a docker config that is not JSON', async () => {
    const run = await promote(withDockerConfig('{"auths": '), 'worker');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('config.json is not valid JSON; fix or remove it');
    expect(run.stderr).not.toContain('Worker started');
  });

  it('worker exits 2 for an --insecure-registry that is not host[:port]', async () => {
    const run = await promote(promoteEnvironment('127.0.0.1:1'), 'worker', '--insecure-registry', 'http://bad host');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('expected a registry as host[:port], without scheme or path');
  });

  it('exits 2 for a missing credential helper', async () => {
    const env = withDockerConfig('{"credsStore": "promote-test-absent"}');
    const run = await promote(env, 'copy', `${protectedRegistry.host}/team/app:1`, `${registry.host}/t/a:1`);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('docker-credential-promote-test-absent was not found on PATH');
    expect(run.stdout).toBe('');
  });
});

describe('promote copy', () => {
  it('exits 2 for a destination digest that differs from the source', async () => {
    const image = await pushMultiPlatformImage(registry, 'team/pinned', { tag: 'v1' });
    const wrong = `sha256:${'e'.repeat(64)}`;
    const run = await promote(
      promoteEnvironment('127.0.0.1:1'),
      'copy',
      '--json',
      `${registry.host}/team/pinned:v1`,
      `${registry.host}/team/copy@${wrong}`,
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`names digest ${wrong}, but the source is ${image.digest}`);
    expect(jsonError(run).exitCode).toBe(2);
  });
});

describe('Temporal address', () => {
  it('exits 2 for an address that is not host:port', async () => {
    const run = await promote(promoteEnvironment('127.0.0.1:1'), 'list', '--json', '--address', 'not a host');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('invalid Temporal address "not a host"; expected host:port');
    expect(jsonError(run).exitCode).toBe(2);
  });
});

describe('with a namespace without search attributes', () => {
  let server: LocalTemporalServer;
  let env: NodeJS.ProcessEnv;
  let pipelineFile: string;

  beforeAll(async () => {
    server = await startTemporalServer({ searchAttributes: false });
    env = promoteEnvironment(server.address, { PROMOTE_NOTIFY_SECRET: 's3cret' });
    pipelineFile = join(dir, 'shop.yaml');
    writeFileSync(
      pipelineFile,
      `name: shop\nstages:\n  - name: dev\n    repository: ${registry.host}/shop/dev\n    environmentTag: dev\n` +
        `  - name: prod\n    repository: ${registry.host}/shop/prod\n    environmentTag: prod\n`,
    );
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('serve exits 3 when its port is in use', async () => {
    const port = await freePort();
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    try {
      const run = await promote(env, 'serve', '--pipeline', pipelineFile, '--listen', `127.0.0.1:${port}`, '--json');
      expect(run.code).toBe(3);
      expect(run.stderr).toContain(`cannot listen on 127.0.0.1:${port}: the address is in use (EADDRINUSE)`);
      expect(jsonError(run).exitCode).toBe(3);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it('list names the command that registers them, then works once a worker registered them', async () => {
    const before = await promote(env, 'list', '--pipeline', pipelineFile);
    expect(before.code).toBe(2);
    expect(before.stderr).toContain('namespace default lacks the search attributes releases are listed by');
    expect(before.stderr).toContain(
      'temporal operator search-attribute create --namespace default --name PromotePipeline --type Keyword',
    );

    const worker = await startPromoteWorker(env);
    try {
      // The server applies new search attributes to list queries within a few seconds.
      let after: PromoteRun | undefined;
      for (let attempt = 0; attempt < 20; attempt++) {
        after = await promote(env, 'list', '--pipeline', pipelineFile);
        if (after.code === 0) {
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect(after?.stderr).toBe('');
      expect(after?.code).toBe(0);
      expect(worker.output()).not.toContain('Warning');
    } finally {
      await worker.stop();
    }
  });
});

describe('help', () => {
  it('shows defaults as they are written', async () => {
    const serve = await promote(promoteEnvironment('127.0.0.1:1'), 'serve', '--help');
    expect(serve.stdout).toContain('(default: 127.0.0.1:8080)');
    const watch = await promote(promoteEnvironment('127.0.0.1:1'), 'policy', 'watch', '--help');
    expect(watch.stdout).toContain('(default: 1m)');
  });
});
