import { InvalidPipelineError, type PipelineProblem, parsePipelineYaml } from '../../src/config/load';

const VALID = `name: web
stages:
  - name: dev
    repository: registry.example.com/dev/web
    environmentTag: dev
  - name: prod
    repository: registry.example.com/prod/web
    environmentTag: prod
    approval:
      approvers: [alice, bob]
`;

function problemsOf(yaml: string): PipelineProblem[] {
  try {
    parsePipelineYaml(yaml, 'pipeline.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidPipelineError);
    return (error as InvalidPipelineError).problems;
  }
  throw new Error('expected the pipeline to be rejected');
}

describe('pipeline problem lines', () => {
  it('unclosed bracket on the last line', () => {
    const problems = problemsOf(VALID.replace('approvers: [alice, bob]', 'approvers: [alice, bob'));
    expect(problems).toHaveLength(1);
    expect(problems[0].path).toBe('');
    expect(problems[0].line).toBe(10);
    expect(problems[0].message).toMatch(/^not valid YAML: /);
  });

  it('syntax error where the parser stops', () => {
    const problems = problemsOf(VALID.replace('environmentTag: dev', 'tags: [a, b\n    environmentTag: dev'));
    expect(problems[0].line).toBe(6);
    expect(problems[0].message).toBe(
      'not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
    );
  });

  it('syntax error without code frame', () => {
    const [problem] = problemsOf('name: web\nstages: [unclosed\n');
    expect(problem.line).toBe(2);
    expect(problem.message).not.toContain('\n');
    expect(problem.message).not.toContain('^');
  });

  it('line in the error message', () => {
    expect(() => parsePipelineYaml('name: web\nstages:\n\t- name: dev\n', 'pipeline.yaml')).toThrow(
      'invalid pipeline pipeline.yaml:\n  - (document), line 3: not valid YAML: ',
    );
  });

  it('duplicate key by name', () => {
    const problems = problemsOf(
      VALID.replace('    environmentTag: dev\n', '    environmentTag: dev\n    name: test\n'),
    );
    expect(problems).toEqual([
      { path: '', line: 6, message: 'not valid YAML: duplicate key "name"; expected each key once per mapping' },
    ]);
  });

  it('quoted duplicate key without quotes', () => {
    const problems = problemsOf(
      VALID.replace('    environmentTag: dev\n', '    environmentTag: dev\n    "name": test\n'),
    );
    expect(problems[0].line).toBe(6);
    expect(problems[0].message).toBe('not valid YAML: duplicate key "name"; expected each key once per mapping');
  });

  it('missing field at its mapping', () => {
    const problems = problemsOf(VALID.replace('    environmentTag: prod\n', ''));
    expect(problems).toEqual([
      {
        path: 'stages[1].environmentTag',
        line: 6,
        message: 'missing; expected a tag of up to 128 letters, digits, "_", "." or "-", e.g. prod',
      },
    ]);
  });

  it('missing top-level field', () => {
    const problems = problemsOf(`# pipeline\n${VALID.replace('name: web\n', '')}`);
    expect(problems).toEqual([{ path: 'name', line: 2, message: 'missing; expected a string' }]);
  });

  it('repeated environment tag at later stage', () => {
    const problems = problemsOf(
      VALID.replace('registry.example.com/prod/web', 'registry.example.com/dev/web').replace(
        'environmentTag: prod',
        'environmentTag: dev',
      ),
    );
    expect(problems.map((problem) => [problem.path, problem.line])).toEqual([['stages[1].environmentTag', 8]]);
    expect(problems[0].message).toContain('as stage "dev" (stages[0])');
  });

  it('duplicate approver at its item', () => {
    const problems = problemsOf(
      VALID.replace('approvers: [alice, bob]', 'approvers:\n        - alice\n        - alice'),
    );
    expect(problems).toEqual([
      {
        path: 'stages[1].approval.approvers[1]',
        line: 12,
        message: 'duplicate approver "alice"; approvals count distinct people, so list each approver once',
      },
    ]);
  });
});
