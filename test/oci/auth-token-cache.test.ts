import { type TokenGrant, TokenCache } from '../../src/oci/auth/token-cache';

let now = 0;
let issued = 0;
const clock = () => now;

function issue(expiresInMs = 60_000): () => Promise<TokenGrant> {
  return () => Promise.resolve({ token: `token-${++issued}`, expiresInMs });
}

beforeEach(() => {
  now = 1_000_000;
  issued = 0;
});

test('cache key ignores scope order and repeats', () => {
  expect(TokenCache.key('r', ['b', 'a', 'b'])).toBe(TokenCache.key('r', ['a', 'b']));
  expect(TokenCache.key('r1', ['a'])).not.toBe(TokenCache.key('r2', ['a']));
});

test('concurrent requests share one token request', async () => {
  const cache = new TokenCache(clock);

  const tokens = await Promise.all([1, 2, 3].map(() => cache.get('k', issue())));

  expect(tokens).toEqual(['token-1', 'token-1', 'token-1']);
  expect(issued).toBe(1);
});

test('token is replaced shortly before it expires', async () => {
  const cache = new TokenCache(clock);
  await cache.get('k', issue(60_000));

  now += 54_999;
  expect(await cache.get('k', issue())).toBe('token-1');
  now += 1;
  expect(await cache.get('k', issue())).toBe('token-2');
});

test('short-lived token keeps a proportional margin', async () => {
  const cache = new TokenCache(clock);
  await cache.get('k', issue(1_000));

  now += 899;
  expect(await cache.get('k', issue())).toBe('token-1');
  now += 1;
  expect(await cache.get('k', issue())).toBe('token-2');
});

test('failed token request is not cached', async () => {
  const cache = new TokenCache(clock);

  await expect(cache.get('k', () => Promise.reject(new Error('token server down')))).rejects.toThrow(
    'token server down',
  );

  expect(await cache.get('k', issue())).toBe('token-1');
});

test('invalidate forgets only the rejected token', async () => {
  const cache = new TokenCache(clock);
  await cache.get('k', issue());

  await cache.invalidate('k', 'some-older-token');
  expect(await cache.get('k', issue())).toBe('token-1');

  await cache.invalidate('k', 'token-1');
  expect(await cache.get('k', issue())).toBe('token-2');
});
