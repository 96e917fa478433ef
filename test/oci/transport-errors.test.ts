import { describeRequest, redactUrl } from '../../src/oci/transport/describe';
import { isLoopback, registryOrigin } from '../../src/oci/transport/endpoint';
import { parseErrorBody } from '../../src/oci/transport/failure';
import { parseRetryAfter, RetryPolicy } from '../../src/oci/transport/retry';

const DIGEST = 'sha256:' + 'ab12'.repeat(16);

test.each([
  ['127.0.0.1:5000', 'http://127.0.0.1:5000'],
  ['127.3.4.5', 'http://127.3.4.5'],
  ['localhost:5000', 'http://localhost:5000'],
  ['[::1]:5000', 'http://[::1]:5000'],
  ['registry.example.com', 'https://registry.example.com'],
  ['registry.example.com:5000', 'https://registry.example.com:5000'],
  ['128.0.0.1:5000', 'https://128.0.0.1:5000'],
  ['localhost.example.com', 'https://localhost.example.com'],
  ['docker.io', 'https://registry-1.docker.io'],
  ['index.docker.io', 'https://registry-1.docker.io'],
])('origin of %s is %s', (registry, origin) => {
  expect(registryOrigin(registry, [])).toBe(origin);
});

test('insecure registries use plain HTTP', () => {
  expect(registryOrigin('registry.internal:5000', ['Registry.Internal:5000'])).toBe('http://registry.internal:5000');
  expect(registryOrigin('registry.internal:5001', ['registry.internal:5000'])).toBe('https://registry.internal:5001');
});

test('loopback detection', () => {
  expect(isLoopback('::1')).toBe(true);
  expect(isLoopback('[0:0:0:0:0:0:0:1]:80')).toBe(true);
  expect(isLoopback('10.0.0.1:5000')).toBe(false);
});

test('redaction removes userinfo and secret query values', () => {
  const url =
    'https://user:pass@storage.example.com/blob?X-Amz-Signature=abc&X-Amz-Credential=key&digest=sha256:1&_state=s';

  expect(redactUrl(url)).toBe(
    'https://storage.example.com/blob?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED&digest=sha256%3A1&_state=REDACTED',
  );
});

test.each([
  ['/v2/team/app/manifests/1.0', 'manifest r:5000/team/app:1.0', undefined],
  [`/v2/team/app/manifests/${DIGEST}`, 'manifest r:5000/team/app@sha256:ab12ab12ab12…', DIGEST],
  [`/v2/team/app/blobs/${DIGEST}`, 'blob r:5000/team/app@sha256:ab12ab12ab12…', DIGEST],
  ['/v2/team/app/blobs/uploads/', 'blob upload r:5000/team/app', undefined],
  ['/v2/team/app/blobs/uploads/abc-123?_state=x', 'blob upload r:5000/team/app', undefined],
  ['/v2/team/app/tags/list', 'tags of r:5000/team/app', undefined],
  [`/v2/team/app/referrers/${DIGEST}`, 'referrers of r:5000/team/app@sha256:ab12ab12ab12…', DIGEST],
  ['/v2/', '/v2/ on r:5000', undefined],
])('request %s is described as %s', (path, subject, digest) => {
  expect(describeRequest('r:5000', 'team/app', new URL(path, 'http://r:5000'))).toEqual({ subject, digest });
});

test('error body with several errors', () => {
  const body = JSON.stringify({
    errors: [
      { code: 'BLOB_UNKNOWN', message: 'blob unknown to registry', detail: { digest: DIGEST } },
      { code: 'DENIED' },
      { message: 'no code, ignored' },
    ],
  });

  expect(parseErrorBody(body)).toEqual([
    { code: 'BLOB_UNKNOWN', message: 'blob unknown to registry', detail: { digest: DIGEST } },
    { code: 'DENIED', message: undefined, detail: undefined },
  ]);
});

test('OAuth2 error body', () => {
  expect(parseErrorBody('{"error":"invalid_grant","error_description":"refresh token expired"}')).toEqual([
    { code: 'invalid_grant', message: 'refresh token expired' },
  ]);
});

test('non-JSON error body has no details', () => {
  expect(parseErrorBody('<html>502 Bad Gateway</html>')).toEqual([]);
  expect(parseErrorBody('null')).toEqual([]);
});

test('Retry-After in seconds and as a date', () => {
  const now = Date.parse('Wed, 21 Oct 2026 07:28:00 GMT');

  expect(parseRetryAfter('7', now)).toBe(7000);
  expect(parseRetryAfter('Wed, 21 Oct 2026 07:28:30 GMT', now)).toBe(30_000);
  expect(parseRetryAfter('Wed, 21 Oct 2026 07:27:00 GMT', now)).toBe(0);
  expect(parseRetryAfter('soon', now)).toBeUndefined();
  expect(parseRetryAfter(undefined, now)).toBeUndefined();
});

test('backoff doubles within jitter and stops at the maximum', () => {
  const policy = new RetryPolicy({ minDelayMs: 100, maxDelayMs: 1000 });

  for (let sample = 0; sample < 50; sample += 1) {
    expect(policy.delayMs(1)).toBeGreaterThanOrEqual(50);
    expect(policy.delayMs(1)).toBeLessThanOrEqual(100);
    expect(policy.delayMs(3)).toBeGreaterThanOrEqual(200);
    expect(policy.delayMs(3)).toBeLessThanOrEqual(400);
    expect(policy.delayMs(10)).toBeGreaterThanOrEqual(500);
    expect(policy.delayMs(10)).toBeLessThanOrEqual(1000);
  }
});

test('Retry-After wins over backoff up to the cap', () => {
  const policy = new RetryPolicy({ minDelayMs: 100, maxRetryAfterMs: 5000 });

  expect(policy.delayMs(1, '3')).toBe(3000);
  expect(policy.delayMs(1, '60')).toBe(5000);
});
