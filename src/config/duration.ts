import { z } from 'zod';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION_PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** Parses `250ms`, `30s`, `10m`, `1.5h`, `7d` into milliseconds; undefined when the text is not of that form. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION_PATTERN.exec(text.trim());
  if (!match) {
    return undefined;
  }
  return Math.round(Number(match[1]) * UNIT_MS[match[2]]);
}

const DURATION_FORM = 'expected a number and a unit (ms, s, m, h, d), e.g. 30s, 10m, 72h';

/** Names the duration form when the value is not a string at all, such as a bare number of seconds. */
function notAString(issue: { input?: unknown }): string | undefined {
  if (issue.input === undefined) {
    // Missing: the loader's own message says so.
    return undefined;
  }
  if (typeof issue.input === 'number') {
    return `invalid duration ${issue.input}: a number needs a unit; ${DURATION_FORM}, or "${issue.input}s" for seconds`;
  }
  return `invalid duration: got ${Array.isArray(issue.input) ? 'a list' : typeof issue.input}; ${DURATION_FORM}`;
}

/** Bounds a duration field puts on the values it accepts. */
export interface DurationLimits {
  /** Rejects 0 and values that round to 0 ms when set. The example of a valid value goes in the message. */
  positive?: { example: string };
  /** Largest value accepted, in milliseconds, with the form shown in the message (`24d`) and why it is the limit. */
  max?: { ms: number; text: string; reason: string };
}

/** Builds a schema for a duration written as a number and a unit (ms, s, m, h, d), read as milliseconds. */
export function durationSchemaWithin(limits: DurationLimits) {
  return z.string({ error: notAString }).transform((text, context) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      context.addIssue({ code: 'custom', message: `invalid duration "${text}"; ${DURATION_FORM}` });
      return z.NEVER;
    }
    if (limits.positive && ms === 0) {
      context.addIssue({
        code: 'custom',
        message: `invalid duration "${text}"; expected a duration above 0, e.g. ${limits.positive.example}`,
      });
      return z.NEVER;
    }
    if (limits.max && ms > limits.max.ms) {
      context.addIssue({
        code: 'custom',
        message: `invalid duration "${text}"; expected at most ${limits.max.text}, because ${limits.max.reason}`,
      });
      return z.NEVER;
    }
    return ms;
  });
}

/**
 * The maximum wait a pipeline may ask for. Without a bound, a typo such as `99999999999999999999d` would be accepted
 * as a wait of millions of years.
 */
export const MAX_WAIT = {
  ms: 365 * 86_400_000,
  text: '365d',
  reason: 'a release is not meant to wait longer than a year',
};

/** A duration written as a number and a unit (ms, s, m, h, d), read as milliseconds: 0 up to MAX_WAIT. */
export const durationSchema = durationSchemaWithin({ max: MAX_WAIT });
