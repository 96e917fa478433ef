import { type AST, RegExpParser } from '@eslint-community/regexpp';

/**
 * Load-time check that a `matches` expression cannot backtrack catastrophically in a backtracking engine
 * such as V8's. It rejects the two shapes that take exponential time:
 * - a repeated item inside a repeated group whose iterations can split the same text in several ways
 *   (`(a+)+`, `(.*a){12}`), decided by whether the inner item can also start what follows it;
 * - a repeated group whose alternatives can start with the same character (`(a|ab)*`, `(a|a)*`).
 * NOTE: polynomial cases such as `.*.*.*x` pass; evaluation caps the length of the text tested instead.
 */

/** Closed code point ranges; an approximation of the characters that can start a match. */
type CodePointRanges = [number, number][];

/** Characters that can start a match of a node, and whether the node can match the empty string. */
interface Start {
  ranges: CodePointRanges;
  nullable: boolean;
}

const MAX_CODE_POINT = 0x10ffff;
const ANY: CodePointRanges = [[0, MAX_CODE_POINT]];
const DIGIT: CodePointRanges = [[0x30, 0x39]];
const WORD: CodePointRanges = [
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
];
const SPACE: CodePointRanges = [
  [0x09, 0x0d],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
];

const REWRITE_ADVICE =
  'rewrite it so that each character can be matched in only one way, e.g. ^(a+)+$ as ^a+$, (a|ab)* as (ab?)*, ' +
  'and (.*a){3} as ([^a]*a){3}';

function complement(ranges: CodePointRanges): CodePointRanges {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const result: CodePointRanges = [];
  let next = 0;
  for (const [low, high] of sorted) {
    if (low > next) {
      result.push([next, low - 1]);
    }
    next = Math.max(next, high + 1);
  }
  if (next <= MAX_CODE_POINT) {
    result.push([next, MAX_CODE_POINT]);
  }
  return result;
}

function overlaps(a: CodePointRanges, b: CodePointRanges): boolean {
  return a.some(([lowA, highA]) => b.some(([lowB, highB]) => lowA <= highB && lowB <= highA));
}

/** The code point and, under the i flag, its other cases. */
function characterRanges(value: number, ignoreCase: boolean): CodePointRanges {
  if (!ignoreCase) {
    return [[value, value]];
  }
  const text = String.fromCodePoint(value);
  const cases = new Set([
    value,
    text.toLowerCase().codePointAt(0) ?? value,
    text.toUpperCase().codePointAt(0) ?? value,
  ]);
  return [...cases].map((point): [number, number] => [point, point]);
}

function characterSetRanges(node: AST.CharacterSet): CodePointRanges {
  let ranges: CodePointRanges;
  switch (node.kind) {
    case 'digit':
      ranges = DIGIT;
      break;
    case 'word':
      ranges = WORD;
      break;
    case 'space':
      ranges = SPACE;
      break;
    default:
      // `.` and Unicode property escapes: treated as any character, which only makes the check stricter.
      return ANY;
  }
  return 'negate' in node && node.negate ? complement(ranges) : ranges;
}

function classRanges(node: AST.CharacterClass, ignoreCase: boolean): CodePointRanges {
  const ranges: CodePointRanges = [];
  for (const element of node.elements) {
    if (element.type === 'Character') {
      ranges.push(...characterRanges(element.value, ignoreCase));
    } else if (element.type === 'CharacterClassRange') {
      // Under the i flag a range also covers other cases; any character keeps the check on the safe side.
      ranges.push(...(ignoreCase ? ANY : [[element.min.value, element.max.value] as [number, number]]));
    } else if (element.type === 'CharacterSet') {
      ranges.push(...characterSetRanges(element));
    } else {
      ranges.push(...ANY);
    }
  }
  return node.negate ? complement(ranges) : ranges;
}

function sequenceStart(elements: AST.Element[], ignoreCase: boolean): Start {
  const ranges: CodePointRanges = [];
  for (const element of elements) {
    const start = startOf(element, ignoreCase);
    ranges.push(...start.ranges);
    if (!start.nullable) {
      return { ranges, nullable: false };
    }
  }
  return { ranges, nullable: true };
}

function alternativesStart(alternatives: AST.Alternative[], ignoreCase: boolean): Start {
  const starts = alternatives.map((alternative) => sequenceStart(alternative.elements, ignoreCase));
  return { ranges: starts.flatMap((start) => start.ranges), nullable: starts.some((start) => start.nullable) };
}

function startOf(node: AST.Element, ignoreCase: boolean): Start {
  switch (node.type) {
    case 'Character':
      return { ranges: characterRanges(node.value, ignoreCase), nullable: false };
    case 'CharacterSet':
      return { ranges: characterSetRanges(node), nullable: false };
    case 'CharacterClass':
      return { ranges: classRanges(node, ignoreCase), nullable: false };
    case 'Group':
    case 'CapturingGroup':
      return alternativesStart(node.alternatives, ignoreCase);
    case 'Quantifier': {
      const inner = startOf(node.element, ignoreCase);
      return { ranges: inner.ranges, nullable: node.min === 0 || inner.nullable };
    }
    case 'Assertion':
      return { ranges: [], nullable: true };
    default:
      // Backreferences and class expressions: any character, possibly none.
      return { ranges: ANY, nullable: true };
  }
}

/** What the walk knows at a node: what may follow it, and whether it sits inside a repeated item. */
interface Context {
  ignoreCase: boolean;
  /** Characters that can come right after the node's match. */
  follow: CodePointRanges;
  insideRepeat: boolean;
}

/** Returns why the node can backtrack catastrophically, or undefined. */
function problemIn(node: AST.Element, context: Context): string | undefined {
  if (node.type === 'Group' || node.type === 'CapturingGroup') {
    return problemInAlternatives(node.alternatives, context);
  }
  if (node.type !== 'Quantifier') {
    return undefined;
  }
  const repeats = node.max > 1;
  const element = startOf(node.element, context.ignoreCase);
  if (repeats && context.insideRepeat && overlaps(element.ranges, context.follow)) {
    return `the repeated ${node.raw} sits inside another repeated item and can match the same text as what follows it`;
  }
  if (repeats && (node.element.type === 'Group' || node.element.type === 'CapturingGroup')) {
    const starts = node.element.alternatives.map((alternative) =>
      sequenceStart(alternative.elements, context.ignoreCase),
    );
    for (let i = 0; i < starts.length; i++) {
      for (let j = i + 1; j < starts.length; j++) {
        if (overlaps(starts[i].ranges, starts[j].ranges)) {
          return `the repeated group ${node.element.raw} has alternatives that can start with the same character`;
        }
      }
    }
  }
  // Inside a repetition, the next iteration can follow an item as well as what comes after the group.
  const follow = repeats ? [...element.ranges, ...context.follow] : context.follow;
  return problemIn(node.element, { ...context, follow, insideRepeat: context.insideRepeat || repeats });
}

function problemInAlternatives(alternatives: AST.Alternative[], context: Context): string | undefined {
  for (const alternative of alternatives) {
    const { elements } = alternative;
    for (let index = 0; index < elements.length; index++) {
      const rest = sequenceStart(elements.slice(index + 1), context.ignoreCase);
      const follow = rest.nullable ? [...rest.ranges, ...context.follow] : rest.ranges;
      const problem = problemIn(elements[index], { ...context, follow });
      if (problem) {
        return problem;
      }
    }
  }
  return undefined;
}

/**
 * Returns why a regular expression (already known to compile) can backtrack catastrophically, with how to
 * rewrite it, or undefined when it cannot.
 */
export function backtrackingProblem(source: string): string | undefined {
  let pattern: AST.Pattern;
  try {
    pattern = new RegExpParser({ ecmaVersion: 2025 }).parsePattern(source, 0, source.length, { unicode: false });
  } catch {
    // The parser follows a newer specification than some engines; V8 has compiled the expression already.
    return undefined;
  }
  const problem = problemInAlternatives(pattern.alternatives, { ignoreCase: false, follow: [], insideRepeat: false });
  return problem === undefined
    ? undefined
    : `regular expression ${JSON.stringify(source)} can take exponential time on some tags: ${problem}; ${REWRITE_ADVICE}`;
}
