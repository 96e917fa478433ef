/**
 * docker-compose.yml, checked without a Docker engine: Debian's docker-compose validates and resolves it, and the
 * resolved file is compared with what the code reads (environment variables, worker flags, search attributes) and
 * with the ports examples/pipeline.yaml names.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadPipelineFile } from '../src/config/load';
import { dockerConfigPath } from '../src/oci/auth/docker-config';
import { resolveTemporalSettings } from '../src/temporal/client';
import { SEARCH_ATTRIBUTES } from '../src/temporal/search-attributes';

const ROOT = join(__dirname, '..');

interface ComposeService {
  image?: string;
  build?: { context: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: { published: number | string; target: number | string }[];
  network_mode?: string;
}

interface ComposeFile {
  services: Record<string, ComposeService>;
}

let compose: ComposeFile;

function dockerCompose(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('docker-compose', args, { cwd: ROOT }, (error, stdout, stderr) => {
      let code = 0;
      if (error !== null) {
        code = typeof error.code === 'number' ? error.code : -1;
      }
      resolve({ code, stdout, stderr });
    });
  });
}

/** Returns `promote COMMAND --help`, run as a child process like the container runs it. */
function promoteHelp(command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const main = join(ROOT, 'src', 'cli', 'main.ts');
    execFile(process.execPath, ['--import', 'tsx', main, command, '--help'], { cwd: ROOT }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`promote ${command} --help failed: ${error.message}\n${stderr}`));
      } else {
        resolve(stdout);
      }
    });
  });
}

function service(name: string): ComposeService {
  const found = compose.services[name];
  if (!found) {
    throw new Error(`docker-compose.yml has no service ${name}; it has ${Object.keys(compose.services).join(', ')}`);
  }
  return found;
}

function publishedPorts(name: string): number[] {
  return (service(name).ports ?? []).map((port) => Number(port.published));
}

/**
 * Summarises every setting the worker derives from its environment as one string: the Temporal connection settings and the
 * docker config path. A variable that changes none of them is read by nothing.
 */
function workerSettings(env: Record<string, string>): string {
  // A config file that does not exist keeps the profile of the person running the tests out of the comparison.
  const isolated = { TEMPORAL_CONFIG_FILE: join(ROOT, 'no-such-temporal.toml'), HOME: '/nonexistent', ...env };
  return JSON.stringify({ temporal: resolveTemporalSettings({}, isolated), dockerConfig: dockerConfigPath(isolated) });
}

beforeAll(async () => {
  const result = await dockerCompose('config');
  if (result.code !== 0) {
    throw new Error(`docker-compose config exited with ${result.code}: ${result.stderr}`);
  }
  compose = parse(result.stdout) as ComposeFile;
});

test('docker-compose config accepts the file with every service', () => {
  expect(Object.keys(compose.services).sort()).toEqual([
    'postgresql',
    'registry-a',
    'registry-b',
    'temporal',
    'temporal-schema',
    'temporal-setup',
    'temporal-ui',
    'worker',
  ]);
  expect(service('worker').build?.context).toBe(ROOT);
});

test('worker variables are all read by the code', () => {
  const environment = service('worker').environment ?? {};
  expect(Object.keys(environment).length).toBeGreaterThan(0);
  const defaults = workerSettings({});
  for (const [name, value] of Object.entries(environment)) {
    // A changed value, because the file may set a variable to its default (TEMPORAL_NAMESPACE: default). The prefix
    // keeps an address valid, where a suffix would make its port out of range.
    const probe = `x${value}`;
    expect({ name, changesASetting: workerSettings({ [name]: probe }) !== defaults }).toEqual({
      name,
      changesASetting: true,
    });
  }
});

test('worker reaches the published Temporal port', () => {
  const worker = service('worker');
  expect(worker.network_mode).toBe('host');
  const settings = resolveTemporalSettings(
    {},
    { TEMPORAL_CONFIG_FILE: join(ROOT, 'no-such-temporal.toml'), ...worker.environment },
  );
  const port = Number(settings.address.split(':').pop());
  expect(publishedPorts('temporal')).toContain(port);
  expect(settings.namespace).toBe('default');
});

test('worker command uses only flags of promote worker', async () => {
  const command = service('worker').command ?? [];
  expect(command[0]).toBe('worker');
  const help = await promoteHelp('worker');
  for (const flag of command.filter((arg) => arg.startsWith('--'))) {
    expect(help).toContain(`${flag.split('=')[0]} `);
  }
});

test('registries publish the ports the example pipeline names', () => {
  const pipeline = loadPipelineFile(join(ROOT, 'examples', 'pipeline.yaml'));
  const ports = new Set(pipeline.stages.map((stage) => Number(stage.repository.split('/')[0].split(':')[1])));
  expect([...ports].sort()).toEqual([...publishedPorts('registry-a'), ...publishedPorts('registry-b')].sort());
  for (const stage of pipeline.stages) {
    expect(stage.repository.startsWith('localhost:')).toBe(true);
  }
});

test('registries run without trace export', () => {
  for (const name of ['registry-a', 'registry-b']) {
    expect(service(name).environment?.OTEL_TRACES_EXPORTER).toBe('none');
  }
});

test('setup registers every search attribute the workflows set', () => {
  const script = (service('temporal-setup').command ?? []).join('\n');
  for (const attribute of SEARCH_ATTRIBUTES) {
    // Temporal CLI 1.5.1 pairs each --name with a --type and skips names without one.
    expect(script).toContain(`--name ${attribute.name} --type Keyword`);
  }
});

test('Dockerfile copies paths that exist', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((match) => match[1].split(/\s+/));
  expect(sources.length).toBeGreaterThan(0);
  for (const source of sources) {
    expect({ source, exists: existsSync(join(ROOT, source)) }).toEqual({ source, exists: true });
  }
  expect(dockerfile).toContain('ENTRYPOINT ["node", "dist/src/cli/main.js"]');
  expect(existsSync(join(ROOT, 'src', 'cli', 'main.ts'))).toBe(true);
});
