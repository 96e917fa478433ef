import { z } from 'zod';
import { backtrackingProblem } from './backtracking';

/**
 * A condition on a text value (a tag, a label or an annotation value), after loading. In the file a
 * plain string is short for `{ equals: … }`, and `not` may hold a list, meaning none of them.
 */
export type TextCondition =
  | { equals: string }
  | { startsWith: string }
  | { endsWith: string }
  | { matches: string }
  | { all: TextCondition[] }
  | { any: TextCondition[] }
  | { not: TextCondition };

/** Operators a text condition may use, in the order error messages list them. */
export const TEXT_OPERATORS = ['equals', 'startsWith', 'endsWith', 'matches', 'all', 'any', 'not'] as const;

type Operator = (typeof TEXT_OPERATORS)[number];
type Path = (string | number)[];
type Report = (path: Path, message: string) => void;

const EXPECTED_FORM =
  'expected a string or an object with one operator: equals, startsWith, endsWith, matches (a regular expression), ' +
  'all (a list), any (a list) or not, e.g. { matches: "^v[0-9]+\\\\.[0-9]+\\\\.[0-9]+$" }';

/** Deepest nesting of all / any / not accepted, so a hostile file cannot exhaust the stack. */
const MAX_DEPTH = 16;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeValue(value: unknown): string {
  if (value === null) {
    return 'null';
  }
  if (Array.isArray(value)) {
    return 'a list';
  }
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

/**
 * Returns the problem with a regular expression's source: it does not compile, or it can backtrack
 * catastrophically. Undefined when it is fine.
 */
export function regularExpressionProblem(source: string): string | undefined {
  try {
    new RegExp(source);
  } catch (error) {
    return `invalid regular expression ${JSON.stringify(source)}: ${(error as Error).message.replace(/^Invalid regular expression: /, '')}`;
  }
  return backtrackingProblem(source);
}

function checkList(value: unknown, operator: 'all' | 'any' | 'not', path: Path, depth: number, report: Report): void {
  if (!Array.isArray(value)) {
    report(path, `"${operator}" expects a list of conditions, got ${describeValue(value)}`);
    return;
  }
  if (value.length === 0) {
    report(path, `"${operator}" has an empty list; write at least one condition`);
    return;
  }
  value.forEach((item, index) => checkTextCondition(item, [...path, index], depth + 1, report));
}

/** Walks a text condition as written in the file and reports every problem with its path. */
function checkTextCondition(value: unknown, path: Path, depth: number, report: Report): void {
  if (depth > MAX_DEPTH) {
    report(path, `conditions are nested more than ${MAX_DEPTH} levels deep`);
    return;
  }
  if (typeof value === 'string') {
    return;
  }
  if (!isRecord(value)) {
    report(path, `invalid condition: got ${describeValue(value)}; ${EXPECTED_FORM}`);
    return;
  }
  const keys = Object.keys(value);
  if (keys.length === 0) {
    report(path, `empty condition; ${EXPECTED_FORM}`);
    return;
  }
  const unknown = keys.filter((key) => !(TEXT_OPERATORS as readonly string[]).includes(key));
  if (unknown.length > 0) {
    report(path, `unknown operator ${unknown.map((key) => `"${key}"`).join(', ')}; ${EXPECTED_FORM}`);
    return;
  }
  if (keys.length > 1) {
    report(
      path,
      `a condition has exactly one operator, got ${keys.map((key) => `"${key}"`).join(' and ')}; combine several with all or any`,
    );
    return;
  }

  const operator = keys[0] as Operator;
  const operand = value[operator];
  const operandPath = [...path, operator];
  switch (operator) {
    case 'equals':
    case 'startsWith':
    case 'endsWith':
      if (typeof operand !== 'string') {
        report(operandPath, `"${operator}" expects a string, got ${describeValue(operand)}`);
      }
      return;
    case 'matches': {
      if (typeof operand !== 'string') {
        report(operandPath, `"matches" expects a regular expression as a string, got ${describeValue(operand)}`);
        return;
      }
      if (operand.length === 0) {
        report(operandPath, '"matches" has an empty regular expression, which matches everything');
        return;
      }
      const problem = regularExpressionProblem(operand);
      if (problem) {
        report(operandPath, problem);
      }
      return;
    }
    case 'all':
    case 'any':
      checkList(operand, operator, operandPath, depth, report);
      return;
    case 'not':
      if (Array.isArray(operand)) {
        checkList(operand, operator, operandPath, depth, report);
      } else {
        checkTextCondition(operand, operandPath, depth + 1, report);
      }
      return;
  }
}

/** Rewrites a checked condition into its loaded form: strings become equals, a `not` list becomes not-any. */
function normalize(value: unknown): TextCondition {
  if (typeof value === 'string') {
    return { equals: value };
  }
  const record = value as Record<string, unknown>;
  if ('all' in record) {
    return { all: (record.all as unknown[]).map(normalize) };
  }
  if ('any' in record) {
    return { any: (record.any as unknown[]).map(normalize) };
  }
  if ('not' in record) {
    const operand = record.not;
    return { not: Array.isArray(operand) ? { any: operand.map(normalize) } : normalize(operand) };
  }
  return { ...record } as TextCondition;
}

/**
 * A text condition. The recursive shape is checked by hand rather than by a zod union, because a
 * union's error ("invalid input") cannot say which operator was unknown or which expression failed
 * to compile. Regular expressions are compiled here, at load time, and again where they are used:
 * the loaded pipeline stays plain JSON so that it can travel in workflow inputs.
 */
export const textConditionSchema = z
  .unknown()
  .superRefine((value, context) => {
    checkTextCondition(value, [], 0, (path, message) => context.addIssue({ code: 'custom', message, path }));
  })
  .transform(normalize);

/** Characters a tag consists of (OCI distribution spec); any other character cannot be part of a tag. */
const TAG_CHARACTERS = /^[A-Za-z0-9_.-]*$/;

/** Reports the literal operands of a loaded condition that no tag can equal, start or end with. */
function checkTagLiterals(condition: TextCondition, path: Path, report: Report): void {
  if ('all' in condition) {
    condition.all.forEach((item, index) => checkTagLiterals(item, [...path, 'all', index], report));
    return;
  }
  if ('any' in condition) {
    condition.any.forEach((item, index) => checkTagLiterals(item, [...path, 'any', index], report));
    return;
  }
  if ('not' in condition) {
    checkTagLiterals(condition.not, [...path, 'not'], report);
    return;
  }
  if ('matches' in condition) {
    return;
  }
  const [operator, literal] = Object.entries(condition)[0];
  if (operator === 'equals' && literal === '') {
    report(path, 'equals "" can never hold for a tag, which has at least one character; expected a tag, e.g. latest');
    return;
  }
  if (!TAG_CHARACTERS.test(literal)) {
    report(
      path,
      `${operator} ${JSON.stringify(literal)} can never hold for a tag, which contains only letters, digits, ` +
        `'_', '.' and '-'; for a regular expression write { matches: ${JSON.stringify(literal)} }`,
    );
  }
}

/**
 * A condition on a tag: a text condition whose literals must be possible in a tag, because a regular expression
 * written as a plain string (`tag: "^v"`) is read as `equals` and would stop every release without a word.
 */
export const tagConditionSchema = textConditionSchema.superRefine((condition, context) => {
  checkTagLiterals(condition, [], (path, message) => context.addIssue({ code: 'custom', message, path }));
});
