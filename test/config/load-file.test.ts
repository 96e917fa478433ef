import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidPipelineError, loadPipelineFile, parsePipeline } from '../../src/config/load';

const VALID = `name: web
stages:
  - name: dev
    repository: 127.0.0.1:5000/dev/web
    environmentTag: dev
  - name: prod
    repository: 127.0.0.1:5000/prod/web
    environmentTag: prod
`;

describe('loadPipelineFile', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pipeline-file-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads a valid file', () => {
    const path = join(dir, 'valid.yaml');
    writeFileSync(path, VALID);
    const pipeline = loadPipelineFile(path);
    expect(pipeline.name).toBe('web');
    expect(pipeline.stages.map((stage) => stage.name)).toEqual(['dev', 'prod']);
  });

  it('names a missing file', () => {
    const path = join(dir, 'absent.yaml');
    expect(() => loadPipelineFile(path)).toThrow(InvalidPipelineError);
    expect(() => loadPipelineFile(path)).toThrow(`invalid pipeline ${path}:\n  - (document): cannot read the file`);
  });

  it('names the file and line of a problem', () => {
    const path = join(dir, 'bad.yaml');
    writeFileSync(path, VALID.replace('environmentTag: prod', 'environmentTag: prod\n    soak: forever'));
    try {
      loadPipelineFile(path);
      throw new Error('expected a failure');
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidPipelineError);
      const invalid = error as InvalidPipelineError;
      expect(invalid.source).toBe(path);
      expect(invalid.problems).toEqual([
        {
          path: 'stages[1].soak',
          line: 9,
          message: 'invalid duration "forever"; expected a number and a unit (ms, s, m, h, d), e.g. 30s, 10m, 72h',
        },
      ]);
      expect(invalid.message).toContain('stages[1].soak, line 9: invalid duration "forever"');
    }
  });

  it('lists every problem, not only the first', () => {
    const path = join(dir, 'many.yaml');
    writeFileSync(path, VALID.replace('name: web', 'name: Web').replace('environmentTag: dev', 'environmentTag: ""'));
    try {
      loadPipelineFile(path);
      throw new Error('expected a failure');
    } catch (error) {
      const paths = (error as InvalidPipelineError).problems.map((problem) => problem.path);
      expect(paths).toEqual(['name', 'stages[0].environmentTag']);
    }
  });
});

describe('parsePipeline', () => {
  it('validates an object without line numbers', () => {
    try {
      parsePipeline({ name: 'web', stages: [] }, 'inline');
      throw new Error('expected a failure');
    } catch (error) {
      const invalid = error as InvalidPipelineError;
      expect(invalid.message).toContain('invalid pipeline inline');
      expect(invalid.problems).toEqual([
        { path: 'stages', message: 'expected at least two stages: the source and one target' },
      ]);
    }
  });
});
