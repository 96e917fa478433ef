import { InvalidPipelineError, parsePipelineYaml } from '../../src/config/load';

const VALID = `
name: web
stages:
  - name: dev
    repository: registry.example.com/dev/web
    environmentTag: dev
  - name: prod
    repository: registry.example.com:5000/prod/web
    environmentTag: prod
    tags: ["%n", "sha-%s"]
    soak: 10m
    approval:
      approvers: [alice, bob]
      required: 2
    hooks:
      - name: smoke
        command: ["./smoke.sh", "--fast"]
`;

function problemsOf(yaml: string): string[] {
  try {
    parsePipelineYaml(yaml, 'pipeline.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidPipelineError);
    return (error as InvalidPipelineError).problems.map((problem) => `${problem.path}: ${problem.message}`);
  }
  throw new Error('expected the pipeline to be refused');
}

describe('pipeline file', () => {
  it('applies defaults and converts durations', () => {
    const pipeline = parsePipelineYaml(VALID);
    const prod = pipeline.stages[1];
    expect(prod.soak).toBe(600_000);
    expect(prod.approval).toEqual({
      approvers: ['alice', 'bob'],
      required: 2,
      allowSelfApproval: false,
      timeout: 604_800_000,
    });
    expect(prod.hooks[0]).toEqual({ name: 'smoke', command: ['./smoke.sh', '--fast'], env: {}, timeout: 300_000 });
    expect(pipeline.stages[0].tags).toEqual([]);
    expect(pipeline.stages[1].referrers).toBe(false);
    expect(pipeline.insecureRegistries).toEqual([]);
  });

  it('accepts a zero soak and a 24-day hook timeout', () => {
    const pipeline = parsePipelineYaml(
      VALID.replace('soak: 10m', 'soak: 0s').replace('"--fast"]', '"--fast"]\n        timeout: 24d'),
    );
    expect(pipeline.stages[1].soak).toBe(0);
    expect(pipeline.stages[1].hooks[0].timeout).toBe(24 * 86_400_000);
  });

  it('accepts one environment tag in two repositories', () => {
    const pipeline = parsePipelineYaml(VALID.replace('environmentTag: prod', 'environmentTag: dev'));
    expect(pipeline.stages.map((stage) => stage.environmentTag)).toEqual(['dev', 'dev']);
  });

  it('reports the line of a bad value', () => {
    try {
      parsePipelineYaml(VALID.replace('soak: 10m', 'soak: ten minutes'), 'pipeline.yaml');
      throw new Error('expected a failure');
    } catch (error) {
      const problem = (error as InvalidPipelineError).problems[0];
      expect(problem.path).toBe('stages[1].soak');
      expect(problem.line).toBe(11);
      expect((error as Error).message).toContain('pipeline.yaml');
    }
  });

  const badCases: [string, string, string][] = [
    [
      'tag on a repository',
      VALID.replace('5000/prod/web', '5000/prod/web:1.0'),
      'stages[1].repository: expected a repository without tag',
    ],
    ['unknown template token', VALID.replace('"sha-%s"', '"%q"'), 'stages[1].tags[1]: unknown token "%q"'],
    [
      'hook with neither command nor http',
      VALID.replace('        command: ["./smoke.sh", "--fast"]\n', ''),
      'stages[1].hooks[0]: a hook needs exactly one of',
    ],
    [
      'more required approvals than approvers',
      VALID.replace('required: 2', 'required: 3'),
      'stages[1].approval.required: required approvals cannot exceed',
    ],
    ['unknown field', VALID.replace('soak: 10m', 'soak: 10m\n    sleep: 1'), 'stages[1]: unknown field "sleep"'],
    ['bad duration', VALID.replace('soak: 10m', 'soak: 10 min'), 'stages[1].soak: invalid duration "10 min"'],
    [
      'soak longer than a year',
      VALID.replace('soak: 10m', 'soak: 99999999999999999999d'),
      'stages[1].soak: invalid duration "99999999999999999999d"; expected at most 365d',
    ],
    [
      'approval timeout longer than a year',
      VALID.replace('required: 2', 'required: 2\n      timeout: 366d'),
      'stages[1].approval.timeout: invalid duration "366d"; expected at most 365d',
    ],
    ['duplicate stage', VALID.replace('name: prod', 'name: dev'), 'stages[1].name: duplicate stage name "dev"'],
    ['uppercase stage name', VALID.replace('name: prod', 'name: Prod'), 'stages[1].name: expected a lowercase name'],
    [
      'bad environment tag',
      VALID.replace('environmentTag: prod', 'environmentTag: "-prod"'),
      'stages[1].environmentTag: expected a tag',
    ],
    ['single stage', VALID.slice(0, VALID.indexOf('  - name: prod')), 'stages: expected at least two stages'],
    [
      'approval on the source stage',
      VALID.replace('environmentTag: dev', 'environmentTag: dev\n    approval: { approvers: [a] }'),
      'stages[0].approval: the first stage is the source',
    ],
    ['not YAML', 'name: [unclosed', ': not valid YAML'],
    ['empty file', '', ': the file is empty; expected a mapping with "name" and "stages"'],
    ['list instead of a mapping', '- a\n- b', ': expected a mapping with "name" and "stages", got a list'],
    ['missing name', VALID.replace('name: web\n', ''), 'name: missing; expected a string'],
    [
      'missing repository',
      VALID.replace('    repository: registry.example.com/dev/web\n', ''),
      'stages[0].repository: missing; expected a string',
    ],
    ['stages as a mapping', 'name: web\nstages: { dev: 1 }', 'stages: expected a list, got a mapping'],
    ['numeric environment tag', VALID.replace('environmentTag: prod', 'environmentTag: 5'), 'expected a string, got 5'],
    [
      'string for a boolean',
      VALID.replace('required: 2', 'required: 2\n      allowSelfApproval: "yes"'),
      'stages[1].approval.allowSelfApproval: expected true or false, got "yes"',
    ],
    [
      'string for referrers',
      VALID.replace('soak: 10m', 'soak: 10m\n    referrers: "yes"'),
      'stages[1].referrers: expected true or false, got "yes"',
    ],
    [
      'zero required approvals',
      VALID.replace('required: 2', 'required: 0'),
      'stages[1].approval.required: expected a number >= 1, got 0',
    ],
    [
      'empty approvers',
      VALID.replace('approvers: [alice, bob]\n      required: 2', 'approvers: []'),
      'stages[1].approval.approvers: expected at least 1 item',
    ],
    [
      'unknown hook method',
      VALID.replace('command: ["./smoke.sh", "--fast"]', 'http: { url: "https://ci.example.com/", method: DELETE }'),
      'stages[1].hooks[0].http.method: expected one of "GET", "POST", "PUT", "HEAD", got "DELETE"',
    ],
    [
      'relative hook URL',
      VALID.replace('command: ["./smoke.sh", "--fast"]', 'http: { url: "/healthz" }'),
      'stages[1].hooks[0].http.url: invalid URL "/healthz"; expected an absolute URL',
    ],
    [
      'stage name shown with the value found',
      VALID.replace('name: prod', 'name: Prod'),
      'expected a lowercase name of letters, digits and "-", starting with a letter, e.g. staging; got "Prod"',
    ],
    [
      'hook timeout above 24 days',
      VALID.replace('"--fast"]', '"--fast"]\n        timeout: 25d'),
      'stages[1].hooks[0].timeout: invalid duration "25d"; expected at most 24d, because the worker times hooks ' +
        'with Node timers, which cannot wait longer than 2^31-1 ms (about 24.8 days)',
    ],
    [
      'hook timeout just above 24 days',
      VALID.replace('"--fast"]', '"--fast"]\n        timeout: 24.5d'),
      'stages[1].hooks[0].timeout: invalid duration "24.5d"; expected at most 24d',
    ],
    [
      'zero hook timeout',
      VALID.replace('"--fast"]', '"--fast"]\n        timeout: 0s'),
      'stages[1].hooks[0].timeout: invalid duration "0s"; expected a duration above 0, e.g. 5m',
    ],
    [
      'hook timeout that rounds to 0 ms',
      VALID.replace('"--fast"]', '"--fast"]\n        timeout: 0.1ms'),
      'stages[1].hooks[0].timeout: invalid duration "0.1ms"; expected a duration above 0',
    ],
    [
      'zero approval timeout',
      VALID.replace('required: 2', 'required: 2\n      timeout: 0d'),
      'stages[1].approval.timeout: invalid duration "0d"; expected a duration above 0, e.g. 3d',
    ],
    [
      'duplicate approver',
      VALID.replace('[alice, bob]', '[alice, alice]'),
      'stages[1].approval.approvers[1]: duplicate approver "alice"; approvals count distinct people',
    ],
    [
      'approver with surrounding whitespace',
      VALID.replace('[alice, bob]', '["alice ", bob]'),
      `stages[1].approval.approvers[0]: approver "alice " has leading or trailing whitespace, which 'promote approve --as' trims`,
    ],
    [
      'empty approver',
      VALID.replace('[alice, bob]', '[alice, ""]'),
      'stages[1].approval.approvers[1]: empty approver name ""; expected a name, e.g. alice',
    ],
    [
      'blank approver',
      VALID.replace('[alice, bob]', '[alice, "  "]'),
      'stages[1].approval.approvers[1]: empty approver name "  "',
    ],
    [
      'target stage equal to the source stage',
      VALID.replace('registry.example.com:5000/prod/web', 'registry.example.com/dev/web').replace(
        'environmentTag: prod',
        'environmentTag: dev',
      ),
      'stages[1].environmentTag: stage "prod" would move the same tag as stage "dev" (stages[0]), ' +
        "registry.example.com/dev/web:dev; expected a repository or environmentTag different from that stage's",
    ],
    [
      'two targets moving one tag',
      VALID + '  - name: staging\n    repository: registry.example.com:5000/prod/web\n    environmentTag: prod\n',
      'stages[2].environmentTag: stage "staging" would move the same tag as stage "prod" (stages[1])',
    ],
    [
      'one repository spelled two ways',
      VALID.replace('registry.example.com/dev/web', 'docker.io/team/web')
        .replace('registry.example.com:5000/prod/web', 'index.docker.io/team/web')
        .replace('environmentTag: prod', 'environmentTag: dev'),
      'stages[1].environmentTag: stage "prod" would move the same tag as stage "dev" (stages[0])',
    ],
    [
      'missing environment tag',
      VALID.replace('    environmentTag: prod\n', ''),
      'stages[1].environmentTag: missing; expected a tag of up to 128 letters, digits, "_", "." or "-", e.g. prod',
    ],
    [
      'duplicate key',
      VALID.replace('soak: 10m', 'soak: 10m\n    soak: 1m'),
      ': not valid YAML: duplicate key "soak"; expected each key once per mapping',
    ],
  ];

  it.each(badCases)('refuses %s', (_, yaml, expected) => {
    expect(problemsOf(yaml).join('\n')).toContain(expected);
  });
});
