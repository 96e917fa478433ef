import { join } from 'node:path';
import { InvalidPipelineError, loadPipelineFile, parsePipelineYaml } from '../../src/config/load';
import { planRelease } from '../../src/policy/plan';

const BASE = `
name: web
stages:
  - name: dev
    repository: registry.example.com/dev/web
    environmentTag: dev
  - name: staging
    repository: registry.example.com/staging/web
    environmentTag: staging
  - name: prod
    repository: registry.example.com/prod/web
    environmentTag: prod
`;

/** Appends pipeline-level YAML (triggers, events) to the base pipeline. */
function withPipeline(yaml: string): string {
  return BASE + yaml;
}

/** Puts a `when` under the prod stage. */
function withProdWhen(yaml: string): string {
  return BASE + yaml.replace(/^/gm, '    ');
}

function problemsOf(yaml: string): string[] {
  try {
    parsePipelineYaml(yaml, 'pipeline.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidPipelineError);
    return (error as InvalidPipelineError).problems.map((problem) => `${problem.path}: ${problem.message}`);
  }
  throw new Error('expected the pipeline to be rejected');
}

describe('policy rules in a pipeline file', () => {
  it('loads triggers, when and events', () => {
    const pipeline = parsePipelineYaml(
      withPipeline(`triggers:
  - name: releases
    tag: { matches: '^v[0-9]+\\.[0-9]+\\.[0-9]+$' }
  - tag: latest
    image:
      platforms: [linux/amd64]
      labels: { org.opencontainers.image.source: { startsWith: 'https://github.com/acme/' } }
      createdAfter: 2025-01-01
      size: { max: 1.5GiB }
events:
  url: https://hooks.example.com/promote
  secretEnv: PROMOTE_WEBHOOK_SECRET
`).replace('environmentTag: prod\n', "environmentTag: prod\n    when:\n      tag: { not: { matches: '-rc' } }\n"),
    );
    expect(pipeline.triggers).toEqual([
      { name: 'releases', tag: { matches: '^v[0-9]+\\.[0-9]+\\.[0-9]+$' } },
      {
        tag: { equals: 'latest' },
        image: {
          platforms: ['linux/amd64'],
          labels: { 'org.opencontainers.image.source': { startsWith: 'https://github.com/acme/' } },
          createdAfter: '2025-01-01T00:00:00.000Z',
          size: { max: 1_610_612_736 },
        },
      },
    ]);
    expect(pipeline.stages[2].when).toEqual({ tag: { not: { matches: '-rc' } } });
    expect(pipeline.events).toEqual({ url: 'https://hooks.example.com/promote', secretEnv: 'PROMOTE_WEBHOOK_SECRET' });
  });

  it('loads the example pipeline', () => {
    const pipeline = loadPipelineFile(join(__dirname, '..', '..', 'examples', 'pipeline-policies.yaml'));
    expect(pipeline.triggers).toHaveLength(2);
    const candidate = planRelease(pipeline, { tag: 'v1.3.0-rc1' });
    expect(candidate.trigger.rule).toBe('triggers[0]');
    expect(candidate.enters).toEqual(['staging']);
    expect(candidate.stoppedBy?.rule).toBe('stages[2].when');
    const early = planRelease(pipeline, { tag: 'v0.9.0', digest: `sha256:${'1'.repeat(64)}` });
    expect(early.trigger.matched).toBe(false);
  });

  it('keeps the loaded pipeline plain JSON', () => {
    const pipeline = parsePipelineYaml(withPipeline(`triggers:\n  - tag: { matches: '^v' }\n`));
    expect(JSON.parse(JSON.stringify(pipeline))).toEqual(pipeline);
  });

  const badRules: [string, string, string][] = [
    [
      'invalid regular expression',
      withPipeline(`triggers:\n  - tag: { matches: 'v(1' }\n`),
      'triggers[0].tag.matches: invalid regular expression "v(1": /v(1/: Unterminated group',
    ],
    [
      'invalid expression deep in a list',
      withProdWhen(`when:\n  tag:\n    all:\n      - startsWith: v\n      - not: { matches: '[z-a]' }\n`),
      'stages[2].when.tag.all[1].not.matches: invalid regular expression "[z-a]"',
    ],
    [
      'unknown operator',
      withPipeline(`triggers:\n  - tag: { contains: rc }\n`),
      'triggers[0].tag: unknown operator "contains"; expected a string or an object with one operator',
    ],
    ['empty rule', withPipeline(`triggers:\n  - {}\n`), 'triggers[0]: empty rule, which would match every image'],
    [
      'empty when',
      withProdWhen(`when: {}\n`),
      'stages[2].when: empty rule, which would match every image; write at least one of tag, digest or image',
    ],
    ['empty trigger list', withPipeline(`triggers: []\n`), 'triggers: empty list; write at least one trigger rule'],
    [
      'empty any list',
      withPipeline(`triggers:\n  - tag: { any: [] }\n`),
      'triggers[0].tag.any: "any" has an empty list; write at least one condition',
    ],
    [
      'two operators in one condition',
      withPipeline(`triggers:\n  - tag: { startsWith: v, endsWith: -rc }\n`),
      'triggers[0].tag: a condition has exactly one operator, got "startsWith" and "endsWith"',
    ],
    [
      'empty condition',
      withPipeline(`triggers:\n  - tag: {}\n`),
      'triggers[0].tag: empty condition; expected a string or an object with one operator',
    ],
    [
      'list where a condition belongs',
      withPipeline(`triggers:\n  - tag: [v1, v2]\n`),
      'triggers[0].tag: invalid condition: got a list; expected a string or an object',
    ],
    [
      'number operand',
      withPipeline(`triggers:\n  - tag: { startsWith: 1 }\n`),
      'triggers[0].tag.startsWith: "startsWith" expects a string, got number 1',
    ],
    [
      'empty regular expression',
      withPipeline(`triggers:\n  - tag: { matches: '' }\n`),
      'triggers[0].tag.matches: "matches" has an empty regular expression, which matches everything',
    ],
    ['unknown rule field', withPipeline(`triggers:\n  - tags: latest\n`), 'triggers[0]: unknown field "tags"'],
    [
      'regular expression written as a plain tag string',
      withProdWhen(`when:\n  tag: '^v[0-9]+$'\n`),
      'stages[2].when.tag: equals "^v[0-9]+$" can never hold for a tag, which contains only letters, digits, ' +
        `'_', '.' and '-'; for a regular expression write { matches: "^v[0-9]+$" }`,
    ],
    [
      'empty tag',
      withProdWhen(`when:\n  tag: ''\n`),
      'stages[2].when.tag: equals "" can never hold for a tag, which has at least one character',
    ],
    [
      'impossible prefix deep in a list',
      withPipeline(`triggers:\n  - tag: { any: [latest, { startsWith: 'v*' }] }\n`),
      'triggers[0].tag.any[1]: startsWith "v*" can never hold for a tag',
    ],
    [
      'malformed digest',
      withPipeline(`triggers:\n  - digest: sha256:abc\n`),
      'triggers[0].digest: expected a digest, sha256:<64 lowercase hex>',
    ],
    [
      'malformed platform',
      withPipeline(`triggers:\n  - image: { platforms: [amd64] }\n`),
      'triggers[0].image.platforms[0]: expected a platform as os/architecture[/variant]',
    ],
    [
      'unknown image condition',
      withPipeline(`triggers:\n  - image: { arch: amd64 }\n`),
      'triggers[0].image: unknown field "arch"',
    ],
    [
      'bad label condition',
      withPipeline(`triggers:\n  - image: { labels: { team: { is: payments } } }\n`),
      'triggers[0].image.labels.team: unknown operator "is"',
    ],
    [
      'invalid timestamp',
      withPipeline(`triggers:\n  - image: { createdAfter: yesterday }\n`),
      'triggers[0].image.createdAfter: invalid timestamp "yesterday"',
    ],
    [
      'impossible time window',
      withPipeline(`triggers:\n  - image: { createdAfter: 2025-06-01, createdBefore: 2025-01-01 }\n`),
      'triggers[0].image: createdAfter is not earlier than createdBefore, so no image can pass',
    ],
    [
      'invalid size',
      withPipeline(`triggers:\n  - image: { size: { max: 2 parsecs } }\n`),
      'triggers[0].image.size.max: invalid size "2 parsecs"',
    ],
    [
      'size without bounds',
      withPipeline(`triggers:\n  - image: { size: {} }\n`),
      'triggers[0].image.size: a size condition needs min, max or both',
    ],
    [
      'when on the source stage',
      BASE.replace('environmentTag: dev\n', 'environmentTag: dev\n    when: { tag: latest }\n'),
      'stages[0].when: the first stage is the source, which a release never enters',
    ],
    [
      'secret in the events webhook',
      withPipeline(`events:\n  url: https://hooks.example.com/x\n  secretEnv: HOOK_SECRET\n  secret: hunter2\n`),
      'events.secret: a secret must not be written in the pipeline file',
    ],
    [
      'events secret variable that is not a name',
      withPipeline(`events:\n  url: https://hooks.example.com/x\n  secretEnv: "my secret"\n`),
      'events.secretEnv: expected the name of an environment variable',
    ],
    [
      'unknown event kind',
      withPipeline(`events:\n  url: https://hooks.example.com/x\n  secretEnv: S\n  kinds: [release.exploded]\n`),
      'events.kinds[0]: expected one of "release.started"',
    ],
  ];

  it.each(badRules)('rejects %s', (_name, yaml, expected) => {
    expect(problemsOf(yaml)).toContainEqual(expect.stringContaining(expected));
  });

  it('reports the line of a bad rule', () => {
    try {
      parsePipelineYaml(withPipeline(`triggers:\n  - tag: latest\n  - tag: { matches: '(' }\n`), 'pipeline.yaml');
      throw new Error('expected a failure');
    } catch (error) {
      const problem = (error as InvalidPipelineError).problems[0];
      expect(problem.path).toBe('triggers[1].tag.matches');
      expect(problem.line).toBe(15);
    }
  });
});
