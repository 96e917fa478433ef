import { InvalidPipelineError, parsePipelineYaml } from '../../src/config/load';

const pipelineWithProd = (repository: string): string => `
name: web
stages:
  - name: dev
    repository: localhost:25001/dev/web
    environmentTag: dev
  - name: prod
    repository: ${JSON.stringify(repository)}
    environmentTag: prod
`;

function repositoryProblems(repository: string): string[] {
  try {
    parsePipelineYaml(pipelineWithProd(repository), 'pipeline.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidPipelineError);
    return (error as InvalidPipelineError).problems.map((problem) => `${problem.path}: ${problem.message}`);
  }
  return [];
}

describe('stage repository', () => {
  it.each([
    ['uppercase path', 'localhost:25001/Test/App', 'repository must be lowercase'],
    [
      'URL scheme',
      'https://localhost:25001/test/app',
      'a URL scheme such as https:// is not part of an image reference',
    ],
    ['empty path component', 'localhost:25001/test//app', 'has an empty path component'],
    ['registry alone', 'localhost:25001', '"localhost:25001" has no repository path; expected registry[:port]/path'],
    ['tag', 'localhost:25001/test/app:1.0', 'expected a repository without tag'],
    ['digest', `localhost:25001/test/app@sha256:${'a'.repeat(64)}`, 'expected a repository without digest'],
    ['Docker Hub short name', 'team/app', 'names no registry host, so it would mean Docker Hub'],
    ['whitespace', 'localhost:25001/test app', 'it contains whitespace'],
    ['bad port', 'localhost:99999/test/app', 'registry port "99999" must be a number from 1 to 65535'],
  ])('rejects %s', (_name, repository, expected) => {
    const problems = repositoryProblems(repository);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^stages\[1\]\.repository: /);
    expect(problems[0]).toContain(expected);
  });

  it.each([
    ['loopback with port', 'localhost:25001/test/app'],
    ['host name with port', 'registry.example.com:5000/team/app'],
    ['Docker Hub written out', 'docker.io/team/app'],
    ['IPv6 address', '[::1]:5000/team/app'],
    ['separators in a component', 'ghcr.io/acme/web_app-2.x'],
  ])('accepts %s', (_name, repository) => {
    expect(repositoryProblems(repository)).toEqual([]);
  });
});
