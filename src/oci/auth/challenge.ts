/** One challenge of a `WWW-Authenticate` header: `Bearer realm="…",service="…",scope="…"`. */
export interface Challenge {
  /** Lower-case scheme: `basic`, `bearer`. */
  scheme: string;
  /** Parameters by lower-case name, values unquoted. */
  params: Record<string, string>;
}

/**
 * Parses `WWW-Authenticate` values (RFC 9110 section 11.6.1) into challenges. Quoted values may contain commas and
 * backslash escapes, and one header may carry several challenges, as in `Basic realm="r", Bearer realm="t"`.
 */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) {
    return [];
  }
  return (Array.isArray(header) ? header : [header]).flatMap(parseHeaderValue);
}

function parseHeaderValue(value: string): Challenge[] {
  const challenges: Challenge[] = [];
  const scanner = new Scanner(value);
  for (;;) {
    scanner.skip(/[\s,]*/y);
    const scheme = scanner.take(/[!#$%&'*+.^_`|~0-9A-Za-z-]+/y);
    if (!scheme) {
      return challenges;
    }
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    challenges.push(challenge);
    for (;;) {
      const mark = scanner.position;
      scanner.skip(/[\s,]*/y);
      const name = scanner.take(/[!#$%&'*+.^_`|~0-9A-Za-z-]+/y);
      scanner.skip(/\s*/y);
      if (!name || !scanner.take(/=/y)) {
        // Not a parameter: either the end or the scheme of the next challenge.
        scanner.position = mark;
        break;
      }
      scanner.skip(/\s*/y);
      challenge.params[name.toLowerCase()] = scanner.quoted() ?? scanner.take(/[^\s,]*/y) ?? '';
    }
  }
}

class Scanner {
  position = 0;

  constructor(private readonly text: string) {}

  skip(pattern: RegExp): void {
    this.take(pattern);
  }

  /** Matches a sticky pattern at the current position and moves past it. */
  take(pattern: RegExp): string | undefined {
    pattern.lastIndex = this.position;
    const match = pattern.exec(this.text);
    if (!match || match[0] === '') {
      return undefined;
    }
    this.position += match[0].length;
    return match[0];
  }

  /** Reads a quoted string, undoing backslash escapes; undefined when none starts here. */
  quoted(): string | undefined {
    if (this.text[this.position] !== '"') {
      return undefined;
    }
    let value = '';
    let index = this.position + 1;
    while (index < this.text.length && this.text[index] !== '"') {
      if (this.text[index] === '\\' && index + 1 < this.text.length) {
        index += 1;
      }
      value += this.text[index];
      index += 1;
    }
    this.position = Math.min(index + 1, this.text.length);
    return value;
  }
}
