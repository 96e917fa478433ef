import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { chainCredentials, staticCredentials } from '../../src/oci/auth/credentials';
import { runCredentialHelper } from '../../src/oci/auth/credential-helper';
import { DockerConfigCredentials, dockerConfigPath } from '../../src/oci/auth/docker-config';

let dir: string;
const originalPath = process.env.PATH;

function writeConfig(config: unknown): DockerConfigCredentials {
  const path = join(dir, 'config.json');
  writeFileSync(path, typeof config === 'string' ? config : JSON.stringify(config));
  return new DockerConfigCredentials(path);
}

/** Writes `docker-credential-NAME`, a shell script that records its arguments and stdin, then runs `body`. */
function writeHelper(name: string, body: string): void {
  const path = join(dir, `docker-credential-${name}`);
  writeFileSync(path, `#!/bin/sh\necho "$@" > "${dir}/${name}.args"\ncat > "${dir}/${name}.stdin"\n${body}\n`);
  chmodSync(path, 0o755);
}

function helperInput(name: string): { args: string; stdin: string } {
  return {
    args: readFileSync(join(dir, `${name}.args`), 'utf8').trim(),
    stdin: readFileSync(join(dir, `${name}.stdin`), 'utf8'),
  };
}

function base64(text: string): string {
  return Buffer.from(text).toString('base64');
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'promoter-docker-config-'));
  process.env.PATH = `${dir}${delimiter}${originalPath}`;
});

afterEach(() => {
  process.env.PATH = originalPath;
  rmSync(dir, { recursive: true, force: true });
});

test('config path follows DOCKER_CONFIG', () => {
  expect(dockerConfigPath({ DOCKER_CONFIG: '/etc/ci-docker' })).toBe('/etc/ci-docker/config.json');
  expect(dockerConfigPath({ HOME: '/home/ci' })).toMatch(/\.docker\/config\.json$/);
});

test('auths entry decodes base64 auth', async () => {
  const config = writeConfig({ auths: { '127.0.0.1:5000': { auth: base64('alice:pa:ss') } } });

  expect(await config.lookup('127.0.0.1:5000')).toEqual({ username: 'alice', password: 'pa:ss' });
  expect(await config.lookup('127.0.0.1:5001')).toBeUndefined();
});

test('auths entry with separate fields and tokens', async () => {
  const config = writeConfig({
    auths: {
      'a.example.com': { username: 'bob', password: 'hunter2' },
      'b.example.com': { identitytoken: 'refresh-token' },
      'c.example.com': { registrytoken: 'registry-token' },
    },
  });

  expect(await config.lookup('a.example.com')).toEqual({ username: 'bob', password: 'hunter2' });
  expect(await config.lookup('b.example.com')).toEqual({ identityToken: 'refresh-token' });
  expect(await config.lookup('c.example.com')).toEqual({ registryToken: 'registry-token' });
});

test('Docker Hub key matches every Docker Hub alias', async () => {
  const config = writeConfig({ auths: { 'https://index.docker.io/v1/': { auth: base64('hub:token') } } });

  for (const registry of ['index.docker.io', 'docker.io', 'registry-1.docker.io']) {
    expect(await config.lookup(registry)).toEqual({ username: 'hub', password: 'token' });
  }
});

test('URL keys match their host and port', async () => {
  const config = writeConfig({ auths: { 'https://registry.example.com:5000/v2/': { auth: base64('u:p') } } });

  expect(await config.lookup('registry.example.com:5000')).toEqual({ username: 'u', password: 'p' });
  expect(await config.lookup('registry.example.com')).toBeUndefined();
});

test('credHelpers entry runs its helper with the server URL', async () => {
  writeHelper('fake', `echo '{"ServerURL":"registry.example.com","Username":"carol","Secret":"s3cret"}'`);
  const config = writeConfig({
    credHelpers: { 'registry.example.com': 'fake' },
    auths: { 'registry.example.com': {} },
  });

  expect(await config.lookup('registry.example.com')).toEqual({ username: 'carol', password: 's3cret' });
  expect(helperInput('fake')).toEqual({ args: 'get', stdin: 'registry.example.com' });
});

test('credsStore receives the Docker Hub server URL', async () => {
  writeHelper('store', `echo '{"Username":"<token>","Secret":"refresh-from-store"}'`);
  const config = writeConfig({ credsStore: 'store' });

  expect(await config.lookup('docker.io')).toEqual({ identityToken: 'refresh-from-store' });
  expect(helperInput('store').stdin).toBe('https://index.docker.io/v1/');
});

test('helper without credentials falls back to auths', async () => {
  writeHelper('empty', `echo 'credentials not found in native keychain'\nexit 1`);
  const config = writeConfig({ credsStore: 'empty', auths: { 'reg.example.com': { auth: base64('dave:pw') } } });

  expect(await config.lookup('reg.example.com')).toEqual({ username: 'dave', password: 'pw' });
});

test('failing helper is named without its output', async () => {
  writeHelper('broken', `echo 'secret-looking stdout'\necho 'keychain locked' >&2\nexit 3`);
  const config = writeConfig({ credHelpers: { 'reg.example.com': 'broken' } });

  const lookup = config.lookup('reg.example.com');

  await expect(lookup).rejects.toThrow(
    'docker-credential-broken get exited with code 3 for reg.example.com: keychain locked',
  );
  await expect(lookup).rejects.not.toThrow('secret-looking');
});

test('missing helper says how to fix it', async () => {
  const config = writeConfig({ credsStore: 'not-installed-here' });

  await expect(config.lookup('reg.example.com')).rejects.toThrow(
    'docker-credential-not-installed-here was not found on PATH; install it or remove it from the docker config',
  );
});

test('missing helper leaves no timer behind', async () => {
  const timers = () => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
  const before = timers();

  await expect(runCredentialHelper('not-installed-here', 'reg.example.com')).rejects.toThrow('not found on PATH');

  expect(timers()).toBe(before);
});

test('hung helper is stopped after the timeout', async () => {
  writeHelper('hung', 'exec sleep 30');
  const started = Date.now();

  await expect(runCredentialHelper('hung', 'reg.example.com', 300)).rejects.toThrow(
    'docker-credential-hung get timed out after 0.3 s for reg.example.com',
  );

  expect(Date.now() - started).toBeLessThan(10_000);
});

test('missing config file means no credentials', async () => {
  const config = new DockerConfigCredentials(join(dir, 'absent', 'config.json'));

  expect(await config.lookup('reg.example.com')).toBeUndefined();
});

test('invalid config names the file but not its content', async () => {
  const config = writeConfig('{"auths": {"reg.example.com": {"auth": "c2VjcmV0"}}, oops');

  const lookup = config.lookup('reg.example.com');

  await expect(lookup).rejects.toThrow(`${join(dir, 'config.json')} is not valid JSON; fix or remove it`);
  await expect(lookup).rejects.not.toThrow('c2VjcmV0');
});

test('explicit credentials win over the docker config', async () => {
  const config = writeConfig({ auths: { 'reg.example.com': { auth: base64('from:config') } } });
  const source = chainCredentials(
    staticCredentials({ 'reg.example.com': { username: 'from', password: 'options' } }),
    config,
  );

  expect(await source.lookup('reg.example.com')).toEqual({ username: 'from', password: 'options' });
  expect(await source.lookup('REG.example.com')).toEqual({ username: 'from', password: 'options' });
});
