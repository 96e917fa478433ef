import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../scripts/lib/ports';
import { type LocalTemporalServer, startTemporalServer } from '../../scripts/lib/temporal-server';
import {
  connectClient,
  DEFAULT_TEMPORAL_ADDRESS,
  InvalidTemporalConfigError,
  resolveTemporalSettings,
  TemporalUnreachableError,
} from '../../src/temporal/client';
import { promote, promoteEnvironment, promoteJson } from './promote-process';

let dir: string;
let configFile: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'promote-connection-'));
  configFile = join(dir, 'temporal.toml');
  writeFileSync(
    configFile,
    [
      '[profile.default]',
      'address = "temporal.internal:7233"',
      'namespace = "releases"',
      '',
      '[profile.cloud]',
      'address = "example.tmprl.cloud:7233"',
      'namespace = "example.a1b2"',
      'api_key = "profile-key"',
      '',
      '[profile.mtls]',
      'address = "secure.internal:7233"',
      '[profile.mtls.tls]',
      'server_name = "secure.internal"',
      '',
    ].join('\n'),
  );
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('resolveTemporalSettings', () => {
  it('defaults to a local dev server', () => {
    const settings = resolveTemporalSettings({}, { HOME: dir, XDG_CONFIG_HOME: join(dir, 'none') });
    expect(settings.address).toBe(DEFAULT_TEMPORAL_ADDRESS);
    expect(settings.address).toBe('127.0.0.1:7233');
    expect(settings.namespace).toBe('default');
    expect(settings.tls).toBeUndefined();
    expect(settings.apiKey).toBeUndefined();
  });

  it('reads the default profile of the config file', () => {
    const settings = resolveTemporalSettings({}, { TEMPORAL_CONFIG_FILE: configFile });
    expect(settings.address).toBe('temporal.internal:7233');
    expect(settings.namespace).toBe('releases');
  });

  it('finds the config file under XDG_CONFIG_HOME like the Temporal CLI', () => {
    const configHome = join(dir, 'xdg');
    const temporalDir = join(configHome, 'temporalio');
    mkdirSync(temporalDir, { recursive: true });
    writeFileSync(join(temporalDir, 'temporal.toml'), '[profile.default]\naddress = "from-xdg:7233"\n');
    expect(resolveTemporalSettings({}, { XDG_CONFIG_HOME: configHome }).address).toBe('from-xdg:7233');
  });

  it('selects a profile by flag or TEMPORAL_PROFILE', () => {
    const byFlag = resolveTemporalSettings({ profile: 'cloud' }, { TEMPORAL_CONFIG_FILE: configFile });
    const byVariable = resolveTemporalSettings({}, { TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: 'cloud' });
    for (const settings of [byFlag, byVariable]) {
      expect(settings.address).toBe('example.tmprl.cloud:7233');
      expect(settings.namespace).toBe('example.a1b2');
      expect(settings.apiKey).toBe('profile-key');
      // An API key turns TLS on when nothing turns it off.
      expect(settings.tls).toBe(true);
    }
  });

  it('lets variables override the profile', () => {
    const settings = resolveTemporalSettings(
      {},
      {
        TEMPORAL_CONFIG_FILE: configFile,
        TEMPORAL_ADDRESS: '127.0.0.1:7999',
        TEMPORAL_NAMESPACE: 'ci',
        TEMPORAL_API_KEY: 'variable-key',
        TEMPORAL_TLS: 'false',
      },
    );
    expect(settings.address).toBe('127.0.0.1:7999');
    expect(settings.namespace).toBe('ci');
    expect(settings.apiKey).toBe('variable-key');
    expect(settings.tls).toBe(false);
  });

  it('lets flags override variables and the profile', () => {
    const settings = resolveTemporalSettings(
      { address: 'flag:7233', namespace: 'flag-ns', apiKey: 'flag-key', tls: false, profile: 'cloud' },
      { TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_ADDRESS: 'variable:7233', TEMPORAL_NAMESPACE: 'variable-ns' },
    );
    expect(settings.address).toBe('flag:7233');
    expect(settings.namespace).toBe('flag-ns');
    expect(settings.apiKey).toBe('flag-key');
    expect(settings.tls).toBe(false);
  });

  it('turns TLS on with --tls', () => {
    const settings = resolveTemporalSettings({ tls: true }, { TEMPORAL_CONFIG_FILE: configFile });
    expect(settings.tls).toEqual(expect.objectContaining({ serverNameOverride: undefined }));
  });

  it('keeps TLS options of a profile', () => {
    const settings = resolveTemporalSettings({ profile: 'mtls' }, { TEMPORAL_CONFIG_FILE: configFile });
    expect(settings.tls).toEqual(expect.objectContaining({ serverNameOverride: 'secure.internal' }));
  });

  it('names an unknown profile', () => {
    const resolve = () => resolveTemporalSettings({ profile: 'staging' }, { TEMPORAL_CONFIG_FILE: configFile });
    expect(resolve).toThrow(InvalidTemporalConfigError);
    expect(resolve).toThrow(`cannot load Temporal connection settings from ${configFile}`);
    expect(resolve).toThrow("Profile 'staging' not found");
  });

  it('names a config file that is not TOML', () => {
    const broken = join(dir, 'broken.toml');
    writeFileSync(broken, '[profile.default\naddress = 1\n');
    expect(() => resolveTemporalSettings({}, { TEMPORAL_CONFIG_FILE: broken })).toThrow(InvalidTemporalConfigError);
  });
});

describe('connectClient', () => {
  it('names the address and the fix when nothing listens', async () => {
    const port = await freePort();
    const connecting = connectClient({ address: `127.0.0.1:${port}`, namespace: 'default' });
    await expect(connecting).rejects.toThrow(TemporalUnreachableError);
    await expect(connecting).rejects.toThrow(
      `cannot reach Temporal at 127.0.0.1:${port}; start one with 'temporal server start-dev --search-attribute `,
    );
  });
});

describe('Temporal address', () => {
  it.each(['not a host', '127.0.0.1', '127.0.0.1:0', 'host:70000', 'http://127.0.0.1:7233'])(
    'rejects %j',
    (address) => {
      expect(() => resolveTemporalSettings({ address }, {})).toThrow(
        `invalid Temporal address ${JSON.stringify(address)}; expected host:port`,
      );
    },
  );

  it.each(['127.0.0.1:7233', '[::1]:7233', 'temporal.example.com:443', 'localhost:7233'])('accepts %j', (address) => {
    expect(resolveTemporalSettings({ address }, {}).address).toBe(address);
  });
});

describe('promote connection settings', () => {
  let server: LocalTemporalServer;

  beforeAll(async () => {
    server = await startTemporalServer();
  });

  afterAll(async () => {
    await server.stop();
  });

  it('exits 3 when no Temporal server responds', async () => {
    const port = await freePort();
    const env = promoteEnvironment(`127.0.0.1:${port}`);
    const run = await promote(env, 'list');
    expect(run.code).toBe(3);
    expect(run.stderr).toBe(
      `promote: cannot reach Temporal at 127.0.0.1:${port}; start one with 'temporal server start-dev ` +
        '--search-attribute PromotePipeline=Keyword --search-attribute PromoteDigest=Keyword ' +
        "--search-attribute PromoteStage=Keyword --search-attribute PromoteState=Keyword', " +
        'or set TEMPORAL_ADDRESS or --address\n',
    );
    expect(run.stdout).toBe('');
  });

  it('exits 3 with a JSON error under --json', async () => {
    const port = await freePort();
    const { run, json } = await promoteJson<{ error: { message: string; exitCode: number } }>(
      promoteEnvironment(`127.0.0.1:${port}`),
      'list',
    );
    expect(run.code).toBe(3);
    expect(json.error.exitCode).toBe(3);
    expect(json.error.message).toContain(`cannot reach Temporal at 127.0.0.1:${port}`);
    expect(run.stderr).toBe(`promote: ${json.error.message}\n`);
  });

  it('connects through a profile of the config file', async () => {
    const profileFile = join(dir, 'local.toml');
    writeFileSync(profileFile, `[profile.local]\naddress = "${server.address}"\nnamespace = "default"\n`);
    const env = promoteEnvironment('', { TEMPORAL_CONFIG_FILE: profileFile });
    delete env.TEMPORAL_ADDRESS;
    const run = await promote(env, 'list', '--profile', 'local');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('no releases or rollbacks in namespace default');
  });

  it('prefers --address to TEMPORAL_ADDRESS', async () => {
    const port = await freePort();
    const env = promoteEnvironment(`127.0.0.1:${port}`);
    const run = await promote(env, 'list', '--address', server.address);
    expect(run.code).toBe(0);
  });

  it('exits 2 for an unknown profile', async () => {
    const env = promoteEnvironment(server.address, { TEMPORAL_CONFIG_FILE: configFile });
    const run = await promote(env, 'list', '--profile', 'nowhere');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("Profile 'nowhere' not found");
  });
});
