import { parseChallenges } from '../../src/oci/auth/challenge';

test.each([
  {
    name: 'Bearer with a quoted comma in the scope',
    header:
      'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:team/app:pull,push"',
    expected: [
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.example.com/token',
          service: 'registry.example.com',
          scope: 'repository:team/app:pull,push',
        },
      },
    ],
  },
  {
    name: 'realm with a query string and an error code',
    header: 'Bearer realm="http://127.0.0.1:4000/token?x=1&y=2",service="s",error="insufficient_scope"',
    expected: [
      {
        scheme: 'bearer',
        params: { realm: 'http://127.0.0.1:4000/token?x=1&y=2', service: 's', error: 'insufficient_scope' },
      },
    ],
  },
  {
    name: 'Basic with spaces around the equals sign',
    header: 'Basic realm = "local registry"',
    expected: [{ scheme: 'basic', params: { realm: 'local registry' } }],
  },
  {
    name: 'two challenges in one header',
    header: 'Basic realm="r", Bearer realm="https://t/token", service="svc"',
    expected: [
      { scheme: 'basic', params: { realm: 'r' } },
      { scheme: 'bearer', params: { realm: 'https://t/token', service: 'svc' } },
    ],
  },
  {
    name: 'unquoted values and mixed-case names',
    header: 'BEARER Realm=https://t/token,Service=svc',
    expected: [{ scheme: 'bearer', params: { realm: 'https://t/token', service: 'svc' } }],
  },
  {
    name: 'escaped quote inside a value',
    header: 'Bearer realm="https://t/token",error_description="the \\"scope\\" is wrong, sorry"',
    expected: [
      { scheme: 'bearer', params: { realm: 'https://t/token', error_description: 'the "scope" is wrong, sorry' } },
    ],
  },
  {
    name: 'scheme without parameters',
    header: 'Negotiate',
    expected: [{ scheme: 'negotiate', params: {} }],
  },
  { name: 'empty header', header: '', expected: [] },
])('challenge parsing: $name', ({ header, expected }) => {
  expect(parseChallenges(header)).toEqual(expected);
});

test('challenges from several header lines', () => {
  const challenges = parseChallenges(['Basic realm="a"', 'Bearer realm="https://b/token"']);

  expect(challenges.map((challenge) => challenge.scheme)).toEqual(['basic', 'bearer']);
});

test('missing header has no challenges', () => {
  expect(parseChallenges(undefined)).toEqual([]);
});
