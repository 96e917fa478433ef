import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { pushImage, pushMultiPlatformImage } from '../../scripts/lib/images';
import { type LocalRegistry, startRegistry } from '../../scripts/lib/registry';
import { pushReferrer, tagReferrers } from '../helpers/referrers';

const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function promote(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(TSX, [MAIN, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } }, (error, stdout, stderr) => {
      let code = 0;
      if (error !== null) {
        code = typeof error.code === 'number' ? error.code : 1;
      }
      resolve({ code, stdout, stderr });
    });
  });
}

let source: LocalRegistry;
let destination: LocalRegistry;

beforeAll(async () => {
  [source, destination] = await Promise.all([startRegistry(), startRegistry()]);
});

afterAll(async () => {
  await Promise.all([source.stop(), destination.stop()]);
});

test('copy prints the digest and a summary', async () => {
  const index = await pushMultiPlatformImage(source, 'team/cli', { tag: 'v1' });

  const run = await promote('copy', `${source.host}/team/cli:v1`, `${destination.host}/prod/cli:v1`);

  expect(run.stderr).toContain(`copied ${source.host}/team/cli:v1 to ${destination.host}/prod/cli:v1: 5 manifests`);
  expect(run.code).toBe(0);
  expect(run.stdout).toBe(`${index.digest}\n`);
  const response = await fetch(`${destination.url}/v2/prod/cli/manifests/v1`, {
    method: 'HEAD',
    headers: { accept: index.mediaType },
  });
  expect(response.headers.get('docker-content-digest')).toBe(index.digest);
});

test('copy --json prints the result', async () => {
  const index = await pushMultiPlatformImage(source, 'team/json', { tag: 'v1' });

  const run = await promote(
    'copy',
    '--json',
    '--concurrency',
    '2',
    '--insecure',
    destination.host,
    `${source.host}/team/json:v1`,
    `${destination.host}/prod/json:v1`,
  );

  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const printed = JSON.parse(run.stdout) as Record<string, unknown>;
  expect(printed).toEqual({
    digest: index.digest,
    mediaType: index.mediaType,
    size: index.size,
    manifests: 5,
    blobs: { copied: 9, mounted: 0, skipped: 0 },
    bytesUploaded: expect.any(Number) as number,
    alreadyPresent: false,
  });
  expect(printed.bytesUploaded).toBeGreaterThan(0);
});

test('copy --referrers --json counts the referrers', async () => {
  const image = await pushImage(source, 'team/signed', { layers: [{ randomBytes: 512 }] }, 'v1');
  const signature = await pushReferrer(source, 'team/signed', image, 'application/vnd.example.signature.v1', 'ok');
  await tagReferrers(source, 'team/signed', image, [signature]);

  const run = await promote(
    'copy',
    '--json',
    '--referrers',
    `${source.host}/team/signed:v1`,
    `${destination.host}/prod/signed:v1`,
  );

  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  expect(JSON.parse(run.stdout)).toMatchObject({ digest: image.digest, manifests: 2, referrers: 1 });
});

test('second copy says the destination had the image', async () => {
  const index = await pushMultiPlatformImage(source, 'team/twice', { tag: 'v1' });
  const args = [`${source.host}/team/twice:v1`, `${destination.host}/prod/twice:v1`];
  await promote('copy', ...args);

  const again = await promote('copy', ...args);
  const json = await promote('copy', '--json', ...args);

  expect(again.code).toBe(0);
  expect(again.stderr).toContain(
    `${destination.host}/prod/twice had ${index.digest} already, so no blob was sent, and tag v1 now points at it`,
  );
  expect(JSON.parse(json.stdout)).toMatchObject({ digest: index.digest, alreadyPresent: true, bytesUploaded: 0 });
});

test('copy rejects an --insecure value that is not host[:port]', async () => {
  const run = await promote('copy', '--insecure', 'http://registry.example.com', 'a/b:1', 'c/d:1');

  expect(run.code).toBe(2);
  expect(run.stderr).toContain(
    'expected a registry as host[:port], without scheme or path, e.g. registry.example.com:5000; ' +
      'got "http://registry.example.com"',
  );
});

test('copy rejects an invalid reference with exit code 2', async () => {
  const run = await promote('copy', 'Team/App:v1', `${destination.host}/prod/x:v1`);

  expect(run.code).toBe(2);
  expect(run.stdout).toBe('');
  expect(run.stderr).toBe(
    'promote: invalid image reference "Team/App:v1": repository must be lowercase; expected ' +
      '[registry[:port]/]repository[:tag][@sha256:<64 hex>], e.g. registry.example.com:5000/team/app:1.4.2\n',
  );
});

test('copy of a missing tag names the manifest', async () => {
  const run = await promote('copy', `${source.host}/team/cli:missing`, `${destination.host}/prod/cli:missing`);

  expect(run.code).toBe(2);
  expect(run.stderr).toContain(`GET manifest ${source.host}/team/cli:missing: 404 MANIFEST_UNKNOWN`);
});

test('copy rejects a non-numeric concurrency', async () => {
  const run = await promote('copy', '--concurrency', 'many', 'a', 'b');

  expect(run.code).toBe(2);
  expect(run.stderr).toContain(`option '--concurrency <n>' argument 'many' is invalid. expected a positive integer`);
});
