import type { z } from 'zod';

const MAX_SHOWN_VALUE = 60;
/** Zod's own messages, which name neither the value found nor the form expected in a person's words. */
const ZOD_DEFAULT_MESSAGE = /^(Invalid|Too (small|big)|Unrecognized)/;

/** Shows a value from the file as a person wrote it: strings quoted, long values cut. */
function showValue(value: unknown): string {
  if (value === null) {
    return 'null';
  }
  if (Array.isArray(value)) {
    return 'a list';
  }
  if (typeof value === 'object') {
    return 'a mapping';
  }
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') {
    return typeof value;
  }
  const text = typeof value === 'bigint' ? value.toString() : JSON.stringify(value);
  return text.length > MAX_SHOWN_VALUE ? `${text.slice(0, MAX_SHOWN_VALUE)}…` : text;
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
};

function typeName(expected: string): string {
  return TYPE_NAMES[expected] ?? expected;
}

function describeTooSmall(issue: z.core.$ZodIssueTooSmall): string {
  const minimum = Number(issue.minimum);
  if (issue.origin === 'array') {
    return `expected at least ${minimum} item${minimum === 1 ? '' : 's'}`;
  }
  if (issue.origin === 'string') {
    return 'expected a non-empty string';
  }
  return `expected a number ${issue.inclusive === false ? '>' : '>='} ${minimum}, got ${showValue(issue.input)}`;
}

function describeTooBig(issue: z.core.$ZodIssueTooBig): string {
  const maximum = Number(issue.maximum);
  if (issue.origin === 'array') {
    return `expected at most ${maximum} items`;
  }
  return `expected a number ${issue.inclusive === false ? '<' : '<='} ${maximum}, got ${showValue(issue.input)}`;
}

/**
 * Describes a schema problem for a person editing the file: what was found and what is expected.
 * Needs issues produced with `reportInput: true`, so the value found is known.
 */
export function describeIssue(issue: z.core.$ZodIssue, isDocument: boolean): string {
  if (issue.code !== 'invalid_format' && !ZOD_DEFAULT_MESSAGE.test(issue.message)) {
    // The schema wrote this message for the field; it already names what is expected.
    return issue.message;
  }
  switch (issue.code) {
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => `"${key}"`).join(', ')}`;
    case 'invalid_type':
      if (isDocument) {
        return issue.input === undefined || issue.input === null
          ? 'the file is empty; expected a mapping with "name" and "stages"'
          : `expected a mapping with "name" and "stages", got ${showValue(issue.input)}`;
      }
      if (issue.input === undefined) {
        return `missing; expected ${typeName(issue.expected)}`;
      }
      return `expected ${typeName(issue.expected)}, got ${showValue(issue.input)}`;
    case 'too_small':
      return describeTooSmall(issue);
    case 'too_big':
      return describeTooBig(issue);
    case 'invalid_value':
      return `expected one of ${issue.values.map((value) => showValue(value)).join(', ')}, got ${showValue(issue.input)}`;
    case 'invalid_format':
      if (issue.format === 'url') {
        return `invalid URL ${showValue(issue.input)}; expected an absolute URL, e.g. https://staging.example.com/healthz`;
      }
      return `${issue.message}; got ${showValue(issue.input)}`;
    default:
      return issue.message;
  }
}
