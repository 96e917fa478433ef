import { InvalidDigestError, parseDigest } from '../../src/oci/digest';
import { InvalidReferenceError, parseRegistryHost, Reference } from '../../src/oci/reference';

const HEX = 'a'.repeat(64);
const EXPECTED =
  'expected [registry[:port]/]repository[:tag][@sha256:<64 hex>], e.g. registry.example.com:5000/team/app:1.4.2';

describe('Reference.parse', () => {
  const good: [string, { registry: string; repository: string; tag?: string; digest?: string; text: string }][] = [
    ['alpine', { registry: 'index.docker.io', repository: 'library/alpine', text: 'index.docker.io/library/alpine' }],
    [
      'alpine:3.20',
      {
        registry: 'index.docker.io',
        repository: 'library/alpine',
        tag: '3.20',
        text: 'index.docker.io/library/alpine:3.20',
      },
    ],
    [
      'docker.io/alpine',
      { registry: 'index.docker.io', repository: 'library/alpine', text: 'index.docker.io/library/alpine' },
    ],
    ['docker.io/team/app', { registry: 'index.docker.io', repository: 'team/app', text: 'index.docker.io/team/app' }],
    [
      'index.docker.io/ubuntu',
      { registry: 'index.docker.io', repository: 'library/ubuntu', text: 'index.docker.io/library/ubuntu' },
    ],
    [
      'team/app:v1',
      { registry: 'index.docker.io', repository: 'team/app', tag: 'v1', text: 'index.docker.io/team/app:v1' },
    ],
    ['localhost/app', { registry: 'localhost', repository: 'app', text: 'localhost/app' }],
    [
      'localhost:5000/app:dev',
      { registry: 'localhost:5000', repository: 'app', tag: 'dev', text: 'localhost:5000/app:dev' },
    ],
    [
      '127.0.0.1:5000/team/sub/app@sha256:' + HEX,
      {
        registry: '127.0.0.1:5000',
        repository: 'team/sub/app',
        digest: 'sha256:' + HEX,
        text: '127.0.0.1:5000/team/sub/app@sha256:' + HEX,
      },
    ],
    ['[::1]:5000/app:1', { registry: '[::1]:5000', repository: 'app', tag: '1', text: '[::1]:5000/app:1' }],
    ['[fe80::1]/app', { registry: '[fe80::1]', repository: 'app', text: '[fe80::1]/app' }],
    [
      'Registry.Example.com/a.b/c__d/e---f:Tag_1.x-y@sha256:' + HEX,
      {
        registry: 'registry.example.com',
        repository: 'a.b/c__d/e---f',
        tag: 'Tag_1.x-y',
        digest: 'sha256:' + HEX,
        text: 'registry.example.com/a.b/c__d/e---f:Tag_1.x-y@sha256:' + HEX,
      },
    ],
    ['ghcr.io/org/app:_x', { registry: 'ghcr.io', repository: 'org/app', tag: '_x', text: 'ghcr.io/org/app:_x' }],
    [
      'host:443/app@sha512:' + 'b'.repeat(128),
      {
        registry: 'host:443',
        repository: 'app',
        digest: 'sha512:' + 'b'.repeat(128),
        text: 'host:443/app@sha512:' + 'b'.repeat(128),
      },
    ],
    [
      'r.io/a' + '/b'.repeat(124),
      { registry: 'r.io', repository: 'a' + '/b'.repeat(124), text: 'r.io/a' + '/b'.repeat(124) },
    ],
  ];

  test.each(good)('accepts %s', (input, expected) => {
    const ref = Reference.parse(input);

    expect(ref.registry).toBe(expected.registry);
    expect(ref.repository).toBe(expected.repository);
    expect(ref.tag).toBe(expected.tag);
    expect(ref.digest).toBe(expected.digest);
    expect(ref.toString()).toBe(expected.text);
    expect(Reference.parse(ref.toString()).toString()).toBe(expected.text);
  });

  const bad: [string, string][] = [
    ['', 'reference is empty'],
    ['Foo/bar', 'repository must be lowercase'],
    ['team/App:1', 'repository must be lowercase'],
    ['https://registry.example.com/app', 'a URL scheme such as https:// is not part of an image reference'],
    ['app name', 'it contains whitespace'],
    ['app:', "tag after ':' is empty"],
    ['app:-x', `tag "-x" may contain only letters, digits, '_', '.' and '-', and must not start with '.' or '-'`],
    ['app:a+b', `tag "a+b" may contain only letters, digits, '_', '.' and '-', and must not start with '.' or '-'`],
    ['app:' + 'x'.repeat(129), 'tag is 129 characters long; the maximum is 128'],
    ['app@', "digest after '@' is empty"],
    ['app@sha256:abc', 'digest "sha256:abc" is invalid: a sha256 digest has 64 hex characters, not 3'],
    ['app@md5:' + HEX, 'digest "md5:' + HEX + '" is invalid: algorithm "md5" is not supported (use sha256 or sha512)'],
    [
      'app@sha256:' + 'A'.repeat(64),
      `digest "sha256:${'A'.repeat(64)}" is invalid: the sha256 hex part must contain only 0-9 and a-f`,
    ],
    ['team//app', 'repository "team//app" has an empty path component'],
    ['team/app/', 'repository "team/app/" has an empty path component'],
    ['registry.example.com/', 'repository after the registry is missing'],
    [
      'team/-app',
      `repository component "-app" is invalid (use lowercase letters and digits, separated by '.', '_', '__' or dashes)`,
    ],
    [
      'team/a..b',
      `repository component "a..b" is invalid (use lowercase letters and digits, separated by '.', '_', '__' or dashes)`,
    ],
    [
      'team/a___b',
      `repository component "a___b" is invalid (use lowercase letters and digits, separated by '.', '_', '__' or dashes)`,
    ],
    ['localhost:abc/app', 'registry port "abc" must be a number from 1 to 65535'],
    ['localhost:70000/app', 'registry port "70000" must be a number from 1 to 65535'],
    ['-bad.example.com/app', 'registry host "-bad.example.com" is invalid (use a hostname, an IPv4 address or [IPv6])'],
    ['[::1/app', 'registry IPv6 address "[::1" is invalid'],
    ['[::1]x/app', 'registry "[::1]x" has text after the IPv6 address'],
    [':5000/app', 'registry host "" is invalid (use a hostname, an IPv4 address or [IPv6])'],
    ['r.io/a' + '/b'.repeat(125), 'name is 256 characters long; the maximum is 255'],
    ['127.0.0.1:5000', 'it names the registry 127.0.0.1 but no repository; expected 127.0.0.1[:PORT]/REPOSITORY[:TAG]'],
    ['localhost', 'it names the registry localhost but no repository; expected localhost[:PORT]/REPOSITORY[:TAG]'],
  ];

  test.each(bad)('rejects %j', (input, reason) => {
    let thrown: unknown;
    try {
      Reference.parse(input);
    } catch (error) {
      thrown = error;
    }

    expect(thrown).toBeInstanceOf(InvalidReferenceError);
    expect((thrown as Error).message).toBe(`invalid image reference ${JSON.stringify(input)}: ${reason}; ${EXPECTED}`);
  });

  test.each([
    ['registry.example.com:5000', 'registry.example.com:5000'],
    ['Registry.Example.com', 'registry.example.com'],
    ['[::1]:5000', '[::1]:5000'],
  ])('registry host %s is accepted', (input, expected) => {
    expect(parseRegistryHost(input)).toBe(expected);
  });

  test.each([
    ['http://registry.example.com', 'got "http://registry.example.com"'],
    ['registry.example.com:99999', 'registry port "99999" must be a number from 1 to 65535'],
    ['bad host', 'registry host "bad host" is invalid'],
  ])('registry host %s is rejected', (input, detail) => {
    expect(() => parseRegistryHost(input)).toThrow(
      'expected a registry as host[:port], without scheme or path, e.g. registry.example.com:5000',
    );
    expect(() => parseRegistryHost(input)).toThrow(detail);
  });

  test('message for an uppercase repository matches the documented form', () => {
    expect(() => Reference.parse('Foo/bar')).toThrow(
      'invalid image reference "Foo/bar": repository must be lowercase; expected ' +
        '[registry[:port]/]repository[:tag][@sha256:<64 hex>], e.g. registry.example.com:5000/team/app:1.4.2',
    );
  });
});

describe('Reference methods', () => {
  const digest = parseDigest('sha256:' + HEX);

  test('identifier prefers digest, then tag, then latest', () => {
    expect(Reference.parse('r.io/app').identifier).toBe('latest');
    expect(Reference.parse('r.io/app:v2').identifier).toBe('v2');
    expect(Reference.parse('r.io/app:v2').withDigest(digest).identifier).toBe(digest);
  });

  test('withTag drops the digest so requests address the tag', () => {
    const tagged = Reference.parse(`r.io/app:v1@${digest}`).withTag('prod');

    expect(tagged.toString()).toBe('r.io/app:prod');
    expect(tagged.digest).toBeUndefined();
  });

  test('withTag rejects an invalid tag', () => {
    expect(() => Reference.parse('r.io/app').withTag('.x')).toThrow(InvalidReferenceError);
  });

  test('sameRepository compares registry and repository only', () => {
    expect(Reference.parse('r.io/app:1').sameRepository(Reference.parse(`r.io/app@${digest}`))).toBe(true);
    expect(Reference.parse('r.io/app').sameRepository(Reference.parse('r.io/other'))).toBe(false);
    expect(Reference.parse('alpine').sameRepository(Reference.parse('docker.io/library/alpine'))).toBe(true);
  });

  test('of builds and validates a reference from parts', () => {
    expect(Reference.of('localhost:5000', 'team/app', { tag: 'v1' }).toString()).toBe('localhost:5000/team/app:v1');
    expect(() => Reference.of('localhost:5000', 'Team/app')).toThrow('repository must be lowercase');
  });
});

describe('parseDigest', () => {
  test('accepts sha256 and sha512', () => {
    expect(parseDigest('sha256:' + HEX)).toBe('sha256:' + HEX);
    expect(parseDigest('sha512:' + 'c'.repeat(128))).toBe('sha512:' + 'c'.repeat(128));
  });

  test('rejects a digest without algorithm', () => {
    expect(() => parseDigest(HEX)).toThrow(InvalidDigestError);
    expect(() => parseDigest(HEX)).toThrow(`invalid digest "${HEX}": the ':' between algorithm and hex is missing`);
  });
});
