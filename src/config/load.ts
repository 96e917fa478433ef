import { readFileSync } from 'node:fs';
import { isMap, isSeq, LineCounter, parseDocument, type Node as YamlNode, type YAMLError } from 'yaml';
import { describeIssue } from './issues';
import { type Pipeline, pipelineSchema } from './schema';

/** One problem found in a pipeline file. */
export interface PipelineProblem {
  /** Path in the file, e.g. `stages[2].approval.required`; empty for the whole document. */
  path: string;
  /**
   * 1-based line of the value, when the YAML parser located it. For a missing field, the line of the mapping
   * that lacks it.
   */
  line?: number;
  message: string;
}

/** Thrown when a pipeline file cannot be read, is not YAML, or does not match the schema. */
export class InvalidPipelineError extends Error {
  constructor(
    readonly source: string,
    readonly problems: PipelineProblem[],
  ) {
    super(
      `invalid pipeline ${source}:\n` +
        problems
          .map((problem) => {
            const where = [problem.path || '(document)', problem.line ? `line ${problem.line}` : ''].filter(Boolean);
            return `  - ${where.join(', ')}: ${problem.message}`;
          })
          .join('\n'),
    );
    this.name = 'InvalidPipelineError';
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, key) => {
    if (typeof key === 'number') {
      return `${text}[${key}]`;
    }
    return text ? `${text}.${String(key)}` : String(key);
  }, '');
}

/**
 * Finds the YAML node at a schema path, to report its line. When the path ends at a field the file lacks, returns
 * the deepest node on the path, which is the mapping that should contain it.
 */
function nodeAt(root: unknown, path: readonly PropertyKey[]): YamlNode | undefined {
  let node = root as YamlNode | undefined;
  for (const key of path) {
    let child: unknown;
    if (isMap(node) || (isSeq(node) && typeof key === 'number')) {
      child = node.get(key, true);
    }
    if (child === undefined) {
      return node;
    }
    node = child as YamlNode;
  }
  return node;
}

/** A key as written at the start of `text`, without its quotes, e.g. `soak` from `soak: 10m`. */
const KEY_AT_START = /^(?:"([^"\n]*)"|'([^'\n]*)'|([^\s:#][^:\n]*?))\s*:/;

/**
 * Describes a YAML syntax error in one line, without the parser's code frame. A duplicate key gets the key's
 * name, which the parser's message leaves out.
 */
function describeYamlError(error: YAMLError, text: string): string {
  if (error.code === 'DUPLICATE_KEY') {
    const match = KEY_AT_START.exec(text.slice(error.pos[0]));
    const key = match?.[1] ?? match?.[2] ?? match?.[3];
    if (key !== undefined) {
      return `not valid YAML: duplicate key ${JSON.stringify(key)}; expected each key once per mapping`;
    }
  }
  return `not valid YAML: ${error.message.split('\n')[0]}`;
}

/** Validates a parsed pipeline object; `source` names it in errors. */
export function parsePipeline(value: unknown, source = 'pipeline'): Pipeline {
  const result = pipelineSchema.safeParse(value, { reportInput: true });
  if (!result.success) {
    throw new InvalidPipelineError(
      source,
      result.error.issues.map((issue) => ({
        path: formatPath(issue.path),
        message: describeIssue(issue, issue.path.length === 0),
      })),
    );
  }
  return result.data;
}

/** Parses and validates pipeline YAML text; errors name the path in the file and its line. */
export function parsePipelineYaml(text: string, source = 'pipeline'): Pipeline {
  const lineCounter = new LineCounter();
  // prettyErrors would append a code frame to each message, so the line is taken from the error's offset instead.
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  if (document.errors.length > 0) {
    // The parser reports an unclosed bracket or quote at the end of the input, which is past the last line.
    const lastContentOffset = Math.max(0, text.trimEnd().length - 1);
    throw new InvalidPipelineError(
      source,
      document.errors.map((error) => ({
        path: '',
        line: lineCounter.linePos(Math.min(error.pos[0], lastContentOffset)).line,
        message: describeYamlError(error, text),
      })),
    );
  }
  const result = pipelineSchema.safeParse(document.toJS(), { reportInput: true });
  if (result.success) {
    return result.data;
  }
  throw new InvalidPipelineError(
    source,
    result.error.issues.map((issue) => {
      const node = nodeAt(document.contents, issue.path);
      const offset = node?.range?.[0];
      return {
        path: formatPath(issue.path),
        line: offset === undefined ? undefined : lineCounter.linePos(offset).line,
        message: describeIssue(issue, issue.path.length === 0),
      };
    }),
  );
}

/** Reads, parses and validates a pipeline file. */
export function loadPipelineFile(path: string): Pipeline {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InvalidPipelineError(path, [{ path: '', message: `cannot read the file: ${(error as Error).message}` }]);
  }
  return parsePipelineYaml(text, path);
}
