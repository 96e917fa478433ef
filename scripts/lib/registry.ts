import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashSync } from 'bcryptjs';
import { freePort, waitUntil } from './ports';
import { requireTool } from './tools';

/** Options of a local CNCF Distribution registry. */
export interface RegistryOptions {
  /** Users for htpasswd Basic auth; anonymous access when absent. */
  users?: Record<string, string>;
  /** Bearer token auth: the registry trusts tokens signed by the keys in this JWKS file. */
  tokenAuth?: { realm: string; service: string; issuer: string; jwksPath: string };
  /** Webhook endpoints for registry notifications. */
  notifications?: { name: string; url: string; headers?: Record<string, string[]> }[];
  /** Storage folder; a new temporary folder, removed on stop, when absent. */
  storageDir?: string;
  /** Port on 127.0.0.1; a free one when absent. */
  port?: number;
}

/** A registry process on 127.0.0.1. */
export interface LocalRegistry {
  /** `127.0.0.1:PORT`, the registry part of an image reference. */
  readonly host: string;
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly storageDir: string;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

function yamlList(items: string[], indent: string): string {
  return items.map((item) => `${indent}- ${item}`).join('\n');
}

function buildConfig(port: number, storageDir: string, options: RegistryOptions, workDir: string): string {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(storageDir)}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  secret: local-registry-secret',
    // Distribution v3 rejects manifests with foreign layers (descriptors with `urls`) unless an allow list matches.
    'validation:',
    '  manifests:',
    '    urls:',
    '      allow:',
    "        - '^https?://'",
  ];
  if (options.users) {
    const htpasswd = join(workDir, 'htpasswd');
    const entries = Object.entries(options.users).map(([user, password]) => `${user}:${hashSync(password, 4)}`);
    writeFileSync(htpasswd, entries.join('\n') + '\n');
    lines.push('auth:', '  htpasswd:', '    realm: local-registry', `    path: ${JSON.stringify(htpasswd)}`);
  } else if (options.tokenAuth) {
    const { realm, service, issuer, jwksPath } = options.tokenAuth;
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${JSON.stringify(realm)}`,
      `    service: ${JSON.stringify(service)}`,
      `    issuer: ${JSON.stringify(issuer)}`,
      `    jwks: ${JSON.stringify(jwksPath)}`,
    );
  }
  if (options.notifications?.length) {
    lines.push('notifications:', '  endpoints:');
    for (const endpoint of options.notifications) {
      lines.push(
        `    - name: ${endpoint.name}`,
        `      url: ${JSON.stringify(endpoint.url)}`,
        '      timeout: 2s',
        '      threshold: 3',
        '      backoff: 200ms',
      );
      if (endpoint.headers) {
        lines.push('      headers:');
        for (const [name, values] of Object.entries(endpoint.headers)) {
          lines.push(
            `        ${name}:`,
            yamlList(
              values.map((value) => JSON.stringify(value)),
              '          ',
            ),
          );
        }
      }
    }
  }
  return lines.join('\n') + '\n';
}

/** Starts a CNCF Distribution registry on a free 127.0.0.1 port and waits until `GET /v2/` answers. */
export async function startRegistry(options: RegistryOptions = {}): Promise<LocalRegistry> {
  const binary = requireTool('registry');
  const workDir = mkdtempSync(join(tmpdir(), 'promoter-registry-'));
  const storageDir = options.storageDir ?? join(workDir, 'storage');
  const port = options.port ?? (await freePort());
  const configPath = join(workDir, 'config.yml');
  writeFileSync(configPath, buildConfig(port, storageDir, options, workDir));

  // The registry logs every 404 at level error (about 1 KB each). Into a pipe, that stalls the registry
  // once the pipe is full while this process's event loop is blocked (in spawnSync, say). Writes to a
  // file do not wait for a reader.
  const logPath = join(workDir, 'registry.log');
  const logFd = openSync(logPath, 'a');
  // Distribution v3 traces every request with OpenTelemetry by default and tries to export the spans to
  // localhost:4318 every few seconds. Nothing listens there, so tracing only costs CPU and fills the log with errors.
  const child = spawn(binary, ['serve', configPath], {
    stdio: ['ignore', 'ignore', logFd],
    env: { ...process.env, OTEL_TRACES_EXPORTER: 'none' },
  });
  closeSync(logFd);
  const stderrTail = () => readFileSync(logPath, 'utf8').slice(-4000);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntil(`registry on ${url}`, async () => {
      if (child.exitCode !== null) {
        throw new Error(`registry exited with code ${child.exitCode}: ${stderrTail()}`);
      }
      const response = await fetch(`${url}/v2/`);
      await response.arrayBuffer();
      return response.status === 200 || response.status === 401;
    });
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`registry did not start on ${url}: ${(error as Error).message}; stderr: ${stderrTail()}`);
  }

  return {
    host: `127.0.0.1:${port}`,
    url,
    storageDir,
    process: child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}
