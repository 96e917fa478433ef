import { parseDuration } from '../../src/config/duration';
import { InvalidPipelineError, parsePipelineYaml } from '../../src/config/load';

describe('parseDuration', () => {
  it.each<[string, number]>([
    ['250ms', 250],
    ['30s', 30_000],
    ['10m', 600_000],
    ['1.5h', 5_400_000],
    ['7d', 604_800_000],
    [' 2s ', 2_000],
    ['0s', 0],
  ])('reads %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '10', 'ten minutes', '10 min', '-5s', '1w', '5S', 's'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('duration in a pipeline file', () => {
  const pipeline = (soak: string): string => `
name: web
stages:
  - name: dev
    repository: registry.example.com/dev/web
    environmentTag: dev
  - name: prod
    repository: registry.example.com/prod/web
    environmentTag: prod
    soak: ${soak}
`;

  function soakProblem(soak: string): string {
    try {
      parsePipelineYaml(pipeline(soak), 'pipeline.yaml');
    } catch (error) {
      return (error as InvalidPipelineError).problems
        .map((problem) => `${problem.path}: ${problem.message}`)
        .join('\n');
    }
    throw new Error('expected the pipeline to be rejected');
  }

  it('names the unit form for a bare number', () => {
    const problem = soakProblem('120');
    expect(problem).toContain('stages[1].soak: invalid duration 120: a number needs a unit');
    expect(problem).toContain('"120s" for seconds');
  });

  it('names the form for a list', () => {
    expect(soakProblem('[1, 2]')).toContain('invalid duration: got a list; expected a number and a unit');
  });

  it('reads a duration with a unit', () => {
    expect(parsePipelineYaml(pipeline('2m'), 'pipeline.yaml').stages[1].soak).toBe(120_000);
  });
});
