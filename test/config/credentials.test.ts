import { InvalidPipelineError, parsePipelineYaml } from '../../src/config/load';

const PIPELINE = `
name: web
stages:
  - name: dev
    repository: registry.example.com/dev/web
    environmentTag: dev
  - name: prod
    repository: registry.example.com/prod/web
    environmentTag: prod
    hooks:
      - name: smoke
        HOOK
`;

function problemsOf(yaml: string): string {
  try {
    parsePipelineYaml(yaml, 'pipeline.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidPipelineError);
    return (error as InvalidPipelineError).problems.map((problem) => `${problem.path}: ${problem.message}`).join('\n');
  }
  throw new Error('expected the pipeline to be rejected');
}

describe('credentials in a pipeline file', () => {
  it('rejects a password in a repository', () => {
    const yaml = PIPELINE.replace('HOOK', 'command: [true]').replace(
      'registry.example.com/dev/web',
      'ci:hunter2@registry.example.com/dev/web',
    );
    const problems = problemsOf(yaml);
    expect(problems).toContain('stages[0].repository: credentials do not belong in a repository');
    expect(problems).toContain('docker config');
  });

  it('rejects a password in a hook URL', () => {
    const problems = problemsOf(PIPELINE.replace('HOOK', 'http: { url: "https://ci:hunter2@ci.example.com/check" }'));
    expect(problems).toContain('stages[1].hooks[0].http.url: credentials do not belong in a hook URL');
  });

  it.each(['Authorization', 'proxy-authorization', 'Cookie', 'X-Api-Key'])('rejects a %s header', (header) => {
    const problems = problemsOf(
      PIPELINE.replace('HOOK', `http: { url: "https://ci.example.com/", headers: { ${header}: "Bearer abc" } }`),
    );
    expect(problems).toContain(`stages[1].hooks[0].http.headers.${header}: header "${header}" carries a credential`);
  });

  it.each(['DB_PASSWORD', 'GITHUB_TOKEN', 'apiKey', 'AWS_SECRET_ACCESS_KEY'])('rejects a %s hook variable', (name) => {
    const problems = problemsOf(PIPELINE.replace('HOOK', `command: [./smoke.sh]\n        env: { ${name}: x }`));
    expect(problems).toContain(`stages[1].hooks[0].env.${name}: "${name}" looks like a secret`);
    expect(problems).toContain("'promote worker --hook-env NAME'");
  });

  it('accepts ordinary headers and variables', () => {
    const pipeline = parsePipelineYaml(
      PIPELINE.replace(
        'HOOK',
        'http: { url: "https://ci.example.com/", headers: { Accept: "application/json" } }\n        env: { MODE: fast }',
      ),
    );
    expect(pipeline.stages[1].hooks[0].http?.headers).toEqual({ Accept: 'application/json' });
    expect(pipeline.stages[1].hooks[0].env).toEqual({ MODE: 'fast' });
  });
});
