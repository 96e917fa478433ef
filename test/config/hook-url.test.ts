import { InvalidPipelineError, parsePipelineYaml } from '../../src/config/load';

const pipelineWithHookUrl = (url: string): string => `
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
        http: { url: ${JSON.stringify(url)} }
`;

function urlProblems(url: string): string[] {
  try {
    parsePipelineYaml(pipelineWithHookUrl(url), 'pipeline.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidPipelineError);
    return (error as InvalidPipelineError).problems.map((problem) => `${problem.path}: ${problem.message}`);
  }
  return [];
}

describe('hook URL placeholders', () => {
  it('rejects an unknown placeholder and lists the known ones', () => {
    const problems = urlProblems('https://ci.example.com/check?image=${PROMOTE_NOPE}');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^stages\[1\]\.hooks\[0\]\.http\.url: unknown placeholder \$\{PROMOTE_NOPE\}/);
    expect(problems[0]).toContain('expected one of ${PROMOTE_IMAGE}, ${PROMOTE_DIGEST}, ${PROMOTE_REPOSITORY}');
    expect(problems[0]).toContain('${PROMOTE_RELEASE}');
  });

  it('names every unknown placeholder', () => {
    const problems = urlProblems('https://ci.example.com/${stage}/${PROMOTE_DIGEST}/${}');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('unknown placeholder ${stage}, ${}');
  });

  it('accepts the known placeholders', () => {
    const url = 'https://ci.example.com/check?image=${PROMOTE_IMAGE}&stage=${PROMOTE_STAGE}&r=${PROMOTE_RELEASE}';
    expect(urlProblems(url)).toEqual([]);
  });
});
