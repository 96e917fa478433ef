import { InvalidPipelineError, parsePipelineYaml } from '../../src/config/load';
import { backtrackingProblem } from '../../src/policy/backtracking';
import { evaluateTrigger } from '../../src/policy/evaluate';
import { MAX_MATCHED_TEXT_LENGTH, matchText } from '../../src/policy/text-match';

const PIPELINE = (pattern: string): string => `
name: web
triggers:
  - tag: { matches: '${pattern}' }
stages:
  - name: dev
    repository: registry.example.com/dev/web
    environmentTag: dev
  - name: prod
    repository: registry.example.com/prod/web
    environmentTag: prod
`;

function problemsOf(yaml: string): string[] {
  try {
    parsePipelineYaml(yaml, 'pipeline.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidPipelineError);
    return (error as InvalidPipelineError).problems.map((problem) => `${problem.path}: ${problem.message}`);
  }
  throw new Error('expected the pipeline to be rejected');
}

describe('regular expressions that backtrack catastrophically', () => {
  it.each([
    ['nested quantifiers', '^(a+)+$'],
    ['overlapping alternatives', '(a|a)*$'],
    ['alternatives with a common prefix', '^(a|ab)*c$'],
    ['bounded repeat of a greedy item', '(.*a){12}'],
    ['nested quantifier in a deeper group', '^((x|y)(\\w+))*$'],
    ['digits repeated inside digits', '^(\\d+)*-$'],
  ])('rejects %s: %s', (_name, pattern) => {
    const problem = backtrackingProblem(pattern);
    expect(problem).toContain(JSON.stringify(pattern));
    expect(problem).toContain('exponential time');
    expect(problem).toContain('rewrite it');
  });

  it.each([
    ['semantic version', '^v\\d+\\.\\d+\\.\\d+$'],
    ['repeated group with a separator', '^(\\d+\\.){3}\\d+$'],
    ['disjoint alternatives', '^(foo|bar)+$'],
    ['optional suffix', '^v[0-9]+(-rc[0-9]+)?$'],
    ['search without anchors', '-rc'],
    ['class repeated once', '^[a-z0-9._-]+$'],
  ])('accepts %s: %s', (_name, pattern) => {
    expect(backtrackingProblem(pattern)).toBeUndefined();
  });

  it('rejects a nested quantifier in a trigger at load time with its path', () => {
    const problems = problemsOf(PIPELINE('^(a+)+$'));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^triggers\[0\]\.tag\.matches: regular expression "\^\(a\+\)\+\$" can take exponential/,
    );
    expect(problems[0]).toContain('^(a+)+$ as ^a+$');
  });

  it('loads a semantic version trigger', () => {
    const pipeline = parsePipelineYaml(PIPELINE('^v\\d+\\.\\d+\\.\\d+$'), 'pipeline.yaml');
    expect(pipeline.triggers?.[0].tag).toEqual({ matches: '^v\\d+\\.\\d+\\.\\d+$' });
  });

  it('fails a matches condition on text longer than the cap without testing it', () => {
    const long = 'a'.repeat(MAX_MATCHED_TEXT_LENGTH + 1);
    const started = performance.now();
    // Built by hand, past the loader, as a pipeline from an older version could be.
    const outcome = matchText({ matches: '^(a+)+$' }, long, 'label x', 'label x is not set');
    expect(performance.now() - started).toBeLessThan(100);
    expect(outcome.passed).toBe(false);
    expect(outcome.reason).toContain(`reads at most ${MAX_MATCHED_TEXT_LENGTH} characters`);
  });

  it('quotes only the start of a long label value in a reason', () => {
    const value = 'x'.repeat(5000);
    const result = evaluateTrigger([{ image: { labels: { note: { equals: 'y' } } } }], {
      tag: 'v1',
      digest: `sha256:${'0'.repeat(64)}`,
      platforms: [],
      annotations: {},
      labels: { note: value },
      size: 1,
    });
    expect(result.matched).toBe(false);
    expect(result.reasons.join('\n').length).toBeLessThan(400);
  });
});
