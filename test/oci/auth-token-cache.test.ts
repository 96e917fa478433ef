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

  const tokens = await Promise.all([1, 2, 3].map(() => cache.get('r', ['s'], issue())));

  expect(tokens).toEqual(['token-1', 'token-1', 'token-1']);
  expect(issued).toBe(1);
});

test('token is replaced shortly before it expires', async () => {
  const cache = new TokenCache(clock);
  await cache.get('r', ['s'], issue(60_000));

  now += 54_999;
  expect(await cache.get('r', ['s'], issue())).toBe('token-1');
  now += 1;
  expect(await cache.get('r', ['s'], issue())).toBe('token-2');
});

test('short-lived token keeps a proportional margin', async () => {
  const cache = new TokenCache(clock);
  await cache.get('r', ['s'], issue(1_000));

  now += 899;
  expect(await cache.get('r', ['s'], issue())).toBe('token-1');
  now += 1;
  expect(await cache.get('r', ['s'], issue())).toBe('token-2');
});

test('failed token request is not cached', async () => {
  const cache = new TokenCache(clock);

  await expect(cache.get('r', ['s'], () => Promise.reject(new Error('token server down')))).rejects.toThrow(
    'token server down',
  );

  expect(await cache.get('r', ['s'], issue())).toBe('token-1');
});

test('invalidate forgets only the rejected token', async () => {
  const cache = new TokenCache(clock);
  await cache.get('r', ['s'], issue());

  await cache.invalidate('some-older-token');
  expect(await cache.get('r', ['s'], issue())).toBe('token-1');

  await cache.invalidate('token-1');
  expect(await cache.get('r', ['s'], issue())).toBe('token-2');
});

test('broader token serves narrower scopes', async () => {
  const cache = new TokenCache(clock);
  await cache.get('r', ['repository:team/app:pull,push', 'repository:team/base:pull'], issue());

  expect(await cache.get('r', ['repository:team/app:pull'], issue())).toBe('token-1');
  expect(await cache.get('r', ['repository:team/base:pull', 'repository:team/app:push'], issue())).toBe('token-1');
  expect(issued).toBe(1);
});

test('narrower token serves no broader scopes', async () => {
  const cache = new TokenCache(clock);
  await cache.get('r', ['repository:team/app:pull'], issue());

  expect(await cache.get('r', ['repository:team/app:pull,push'], issue())).toBe('token-2');
  expect(await cache.get('r', ['repository:team/other:pull'], issue())).toBe('token-3');
  expect(await cache.get('r2', ['repository:team/app:pull'], issue())).toBe('token-4');
});

test('narrower request shares broader request', async () => {
  const cache = new TokenCache(clock);
  let release: (grant: TokenGrant) => void = () => undefined;
  const broad = cache.get('r', ['repository:team/app:pull,push'], () => new Promise((resolve) => (release = resolve)));
  const narrow = cache.get('r', ['repository:team/app:pull'], issue());

  release({ token: 'broad', expiresInMs: 60_000 });

  expect(await Promise.all([broad, narrow])).toEqual(['broad', 'broad']);
  expect(issued).toBe(0);
});

test('failed broader request falls back', async () => {
  const cache = new TokenCache(clock);
  const broad = cache.get('r', ['repository:team/app:pull,push'], () => Promise.reject(new Error('denied: push')));
  const narrow = cache.get('r', ['repository:team/app:pull'], issue());

  await expect(broad).rejects.toThrow('denied: push');
  expect(await narrow).toBe('token-1');
});

test('expired broader token is not used', async () => {
  const cache = new TokenCache(clock);
  await cache.get('r', ['repository:team/app:pull,push'], issue(60_000));

  now += 55_000;

  expect(await cache.get('r', ['repository:team/app:pull'], issue())).toBe('token-2');
});

test('invalidated broader token is refetched', async () => {
  const cache = new TokenCache(clock);
  await cache.get('r', ['repository:team/app:pull,push'], issue());

  await cache.invalidate('token-1');

  expect(await cache.get('r', ['repository:team/app:pull'], issue())).toBe('token-2');
});
