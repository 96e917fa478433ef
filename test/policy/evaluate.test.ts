import { evaluateRule, evaluateTrigger, evaluateWhen, type ImageFacts } from '../../src/policy/evaluate';
import { type PolicyRule, policyRuleSchema, triggersSchema } from '../../src/policy/schema';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const OTHER_DIGEST = `sha256:${'b'.repeat(64)}`;

function facts(overrides: Partial<ImageFacts> = {}): ImageFacts {
  return {
    tag: 'v1.2.3',
    digest: DIGEST,
    platforms: ['linux/amd64', 'linux/arm64/v8'],
    annotations: { 'org.opencontainers.image.revision': '0123abc' },
    labels: { 'org.opencontainers.image.source': 'https://github.com/acme/web', team: 'payments' },
    created: '2025-06-01T12:00:00.000Z',
    size: 42_000_000,
    ...overrides,
  };
}

function rule(value: unknown): PolicyRule {
  return policyRuleSchema.parse(value);
}

const SEMVER = { matches: '^v[0-9]+\\.[0-9]+\\.[0-9]+$' };

describe('tag conditions', () => {
  const cases: [string, unknown, string | undefined, boolean][] = [
    ['plain string equals', 'latest', 'latest', true],
    ['plain string differs', 'latest', 'v1', false],
    ['equals', { equals: 'v1.2.3' }, 'v1.2.3', true],
    ['startsWith', { startsWith: 'release-' }, 'release-7', true],
    ['startsWith fails', { startsWith: 'release-' }, 'dev-7', false],
    ['endsWith', { endsWith: '-alpine' }, '3.20-alpine', true],
    ['matches searches', { matches: '[0-9]+' }, 'build-42', true],
    ['anchored matches', SEMVER, 'v1.2.3', true],
    ['anchored matches rejects suffix', SEMVER, 'v1.3.0-rc1', false],
    ['all', { all: [SEMVER, { not: { startsWith: 'v0.' } }] }, 'v1.0.0', true],
    ['all fails on one', { all: [SEMVER, { not: { startsWith: 'v0.' } }] }, 'v0.9.0', false],
    ['any', { any: ['latest', { startsWith: 'release-' }] }, 'release-1', true],
    ['any fails', { any: ['latest', { startsWith: 'release-' }] }, 'dev-1', false],
    ['not list is none of', { not: ['latest', { startsWith: 'dev-' }] }, 'v2', true],
    ['not list fails', { not: ['latest', { startsWith: 'dev-' }] }, 'dev-2', false],
    ['missing tag fails a leaf', { startsWith: 'v' }, undefined, false],
    ['missing tag passes not', { not: 'latest' }, undefined, true],
  ];

  it.each(cases)('%s', (_name, condition, tag, expected) => {
    const outcome = evaluateRule(rule({ tag: condition }), facts({ tag }), 'triggers[0]');
    expect(outcome.matched).toBe(expected);
    expect(outcome.reasons.length).toBeGreaterThan(0);
    expect(outcome.reasons.every((reason) => reason.startsWith('triggers[0].tag: '))).toBe(true);
  });
});

describe('trigger evaluation', () => {
  const triggers = triggersSchema.parse([
    { name: 'release candidates', tag: { matches: '-rc[0-9]+$' }, image: { platforms: ['linux/s390x'] } },
    { name: 'releases', tag: SEMVER },
  ]);

  it('reports the first rule that holds', () => {
    const result = evaluateTrigger(triggers, facts());
    expect(result.matched).toBe(true);
    expect(result.rule).toBe('triggers[1]');
    expect(result.name).toBe('releases');
    expect(result.reasons).toEqual(['triggers[1].tag: tag "v1.2.3" matches /^v[0-9]+\\.[0-9]+\\.[0-9]+$/']);
  });

  it('explains every failed condition when none holds', () => {
    const result = evaluateTrigger(triggers, facts({ tag: 'dev-7' }));
    expect(result.matched).toBe(false);
    expect(result.rule).toBeUndefined();
    expect(result.reasons).toContain('triggers[0].tag: tag "dev-7" does not match /-rc[0-9]+$/');
    expect(result.reasons).toContain(
      'triggers[0].image.platforms: platform linux/s390x missing; the image has linux/amd64, linux/arm64/v8',
    );
    expect(result.reasons).toContain('triggers[1].tag: tag "dev-7" does not match /^v[0-9]+\\.[0-9]+\\.[0-9]+$/');
  });

  it('matches nothing without triggers', () => {
    const result = evaluateTrigger(undefined, facts());
    expect(result.matched).toBe(false);
    expect(result.reasons).toEqual(['triggers: the pipeline has no triggers']);
  });

  it('says a push by digest has no tag', () => {
    const result = evaluateTrigger(triggers, facts({ tag: undefined }));
    expect(result.matched).toBe(false);
    expect(result.reasons).toContain('triggers[1].tag: no tag: the image was pushed or released by digest alone');
  });

  it('leaves image conditions unchecked with tag facts only', () => {
    const result = evaluateTrigger(triggers, { tag: 'v2.0.0-rc1' });
    expect(result.matched).toBe(true);
    expect(result.rule).toBe('triggers[0]');
    expect(result.unchecked).toEqual(['triggers[0].image']);
  });
});

describe('digest and image conditions', () => {
  it('fixed digest passes only that digest', () => {
    const pinned = rule({ digest: DIGEST });
    expect(evaluateRule(pinned, facts(), 'r').matched).toBe(true);
    const other = evaluateRule(pinned, facts({ digest: OTHER_DIGEST }), 'r');
    expect(other.matched).toBe(false);
    expect(other.reasons).toEqual([`r.digest: digest ${OTHER_DIGEST} is not ${DIGEST}`]);
  });

  it('fixed digest without a known digest says it is unchecked', () => {
    const outcome = evaluateRule(rule({ digest: DIGEST }), { tag: 'v1.2.3' }, 'triggers[0]');
    expect(outcome.matched).toBe(true);
    expect(outcome.unchecked).toEqual(['triggers[0].digest']);
    expect(outcome.reasons).toEqual([
      'triggers[0].digest: not checked without reading the registry, counted as holding',
    ]);
  });

  it('label value conditions', () => {
    const fromAcme = rule({
      image: { labels: { 'org.opencontainers.image.source': { startsWith: 'https://github.com/acme/' } } },
    });
    expect(evaluateRule(fromAcme, facts(), 'r').matched).toBe(true);
    const elsewhere = evaluateRule(
      fromAcme,
      facts({ labels: { 'org.opencontainers.image.source': 'https://x' } }),
      'r',
    );
    expect(elsewhere.matched).toBe(false);
    expect(elsewhere.reasons[0]).toBe(
      'r.image.labels: label org.opencontainers.image.source="https://x" does not start with "https://github.com/acme/"',
    );
    const unlabeled = evaluateRule(fromAcme, facts({ labels: {} }), 'r');
    expect(unlabeled.reasons).toEqual(['r.image.labels: label org.opencontainers.image.source is not set']);
  });

  it('annotation value conditions', () => {
    const revision = rule({ image: { annotations: { 'org.opencontainers.image.revision': '0123abc' } } });
    expect(evaluateRule(revision, facts(), 'r').matched).toBe(true);
    expect(evaluateRule(revision, facts({ annotations: {} }), 'r').matched).toBe(false);
  });

  it('created bounds', () => {
    const window = rule({ image: { createdAfter: '2025-01-01', createdBefore: '2025-12-31T23:59:59Z' } });
    expect(evaluateRule(window, facts(), 'r').matched).toBe(true);
    const old = evaluateRule(window, facts({ created: '2024-06-01T00:00:00.000Z' }), 'r');
    expect(old.matched).toBe(false);
    expect(old.reasons).toEqual([
      'r.image.createdAfter: created 2024-06-01T00:00:00.000Z is not after 2025-01-01T00:00:00.000Z',
    ]);
    const undated = evaluateRule(window, facts({ created: undefined }), 'r');
    expect(undated.reasons[0]).toBe('r.image.createdAfter: the image config has no created time');
  });

  it('size bounds', () => {
    const small = rule({ image: { size: { max: '50MB' } } });
    expect(evaluateRule(small, facts(), 'r').matched).toBe(true);
    const large = evaluateRule(small, facts({ size: 60_000_000 }), 'r');
    expect(large.matched).toBe(false);
    expect(large.reasons[0]).toBe(
      'r.image.size: size 60.0 MB (60000000 bytes) is above the maximum 50.0 MB (50000000 bytes)',
    );
    expect(evaluateRule(rule({ image: { size: { min: '1KiB' } } }), facts({ size: 1000 }), 'r').matched).toBe(false);
  });

  it('platforms must all be present', () => {
    expect(evaluateRule(rule({ image: { platforms: ['linux/amd64'] } }), facts(), 'r').matched).toBe(true);
    expect(evaluateRule(rule({ image: { platforms: ['linux/amd64', 'windows/amd64'] } }), facts(), 'r').matched).toBe(
      false,
    );
  });
});

describe('stage when', () => {
  it('passes a stage without a rule', () => {
    expect(evaluateWhen(undefined, facts(), 2).matched).toBe(true);
  });

  it('names the rule that stops a release', () => {
    const result = evaluateWhen(rule({ tag: SEMVER }), facts({ tag: 'v1.3.0-rc1' }), 3);
    expect(result.matched).toBe(false);
    expect(result.rule).toBe('stages[3].when');
    expect(result.reasons).toEqual([
      'stages[3].when.tag: tag "v1.3.0-rc1" does not match /^v[0-9]+\\.[0-9]+\\.[0-9]+$/',
    ]);
  });
});
