import type { TextCondition } from './text-condition';

/** The outcome of one condition, with a sentence saying why. */
export interface ConditionOutcome {
  passed: boolean;
  reason: string;
}

/**
 * Maximum length of text a regular expression is tested against. Tags have at most 128 characters, but labels and
 * annotations can be longer, and even an expression that passed the load-time check can take polynomial
 * time (`.*.*.*x`), so longer values fail the condition instead of stalling a worker.
 */
export const MAX_MATCHED_TEXT_LENGTH = 1024;

// Compiled expressions, by source. The pipeline carries sources, not RegExp objects, so that it stays plain JSON.
const compiled = new Map<string, RegExp>();

function regularExpression(source: string): RegExp {
  let expression = compiled.get(source);
  if (!expression) {
    expression = new RegExp(source);
    compiled.set(source, expression);
  }
  return expression;
}

/** Describes a condition in words, e.g. `matches /^v[0-9]+/` or `any of (equals "a"; starts with "b")`. */
export function describeTextCondition(condition: TextCondition): string {
  if ('equals' in condition) {
    return `equals ${JSON.stringify(condition.equals)}`;
  }
  if ('startsWith' in condition) {
    return `starts with ${JSON.stringify(condition.startsWith)}`;
  }
  if ('endsWith' in condition) {
    return `ends with ${JSON.stringify(condition.endsWith)}`;
  }
  if ('matches' in condition) {
    return `matches /${condition.matches}/`;
  }
  if ('all' in condition) {
    return `all of (${condition.all.map(describeTextCondition).join('; ')})`;
  }
  if ('any' in condition) {
    return `any of (${condition.any.map(describeTextCondition).join('; ')})`;
  }
  return `not (${describeTextCondition(condition.not)})`;
}

function negated(condition: TextCondition): string {
  const words = describeTextCondition(condition);
  if ('equals' in condition) {
    return `does not equal ${JSON.stringify(condition.equals)}`;
  }
  if ('startsWith' in condition) {
    return `does not start with ${JSON.stringify(condition.startsWith)}`;
  }
  if ('endsWith' in condition) {
    return `does not end with ${JSON.stringify(condition.endsWith)}`;
  }
  if ('matches' in condition) {
    return `does not match /${condition.matches}/`;
  }
  return `does not meet ${words}`;
}

function testLeaf(condition: TextCondition, value: string): boolean {
  if ('equals' in condition) {
    return value === condition.equals;
  }
  if ('startsWith' in condition) {
    return value.startsWith(condition.startsWith);
  }
  if ('endsWith' in condition) {
    return value.endsWith(condition.endsWith);
  }
  if ('matches' in condition) {
    // A search, as in grep and Go's MatchString: anchor with ^ and $ to match the whole value.
    return regularExpression(condition.matches).test(value);
  }
  throw new Error(`not a leaf condition: ${describeTextCondition(condition)}`);
}

/**
 * Tests `value` against a condition and explains the outcome. `subject` names the value in the
 * sentence (`tag "v1.2.3"`), `missing` is the sentence used when there is no value: every leaf
 * condition fails on a missing value, so `not` passes on it.
 */
export function matchText(
  condition: TextCondition,
  value: string | undefined,
  subject: string,
  missing: string,
): ConditionOutcome {
  if ('all' in condition) {
    const outcomes = condition.all.map((child) => matchText(child, value, subject, missing));
    const failed = outcomes.find((outcome) => !outcome.passed);
    return failed ?? { passed: true, reason: outcomes.map((outcome) => outcome.reason).join(' and ') };
  }
  if ('any' in condition) {
    const outcomes = condition.any.map((child) => matchText(child, value, subject, missing));
    const passed = outcomes.find((outcome) => outcome.passed);
    if (passed) {
      return passed;
    }
    if (value === undefined) {
      return { passed: false, reason: missing };
    }
    return {
      passed: false,
      reason: `${subject} meets none of: ${condition.any.map(describeTextCondition).join('; ')}`,
    };
  }
  if ('not' in condition) {
    const inner = matchText(condition.not, value, subject, missing);
    if (inner.passed) {
      return { passed: false, reason: `${inner.reason}, which the rule excludes` };
    }
    if (value === undefined) {
      return { passed: true, reason: `${missing}, so it does not meet ${describeTextCondition(condition.not)}` };
    }
    return { passed: true, reason: `${subject} ${negated(condition.not)}` };
  }

  if (value === undefined) {
    return { passed: false, reason: missing };
  }
  if ('matches' in condition && value.length > MAX_MATCHED_TEXT_LENGTH) {
    return {
      passed: false,
      reason:
        `${subject} is ${value.length} characters long, so it is not tested against /${condition.matches}/, ` +
        `which reads at most ${MAX_MATCHED_TEXT_LENGTH} characters`,
    };
  }
  const passed = testLeaf(condition, value);
  return { passed, reason: `${subject} ${passed ? describeTextCondition(condition) : negated(condition)}` };
}
