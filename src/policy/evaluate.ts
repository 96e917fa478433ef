// Pure and deterministic, so the release workflow can evaluate a stage's `when` itself: imports here are type-only
// or of other pure modules.
import type { ImageConditions, PolicyRule } from './schema';
import { type ConditionOutcome, matchText } from './text-match';

/** What is known about a pushed image when rules are evaluated. */
export interface ImageFacts {
  /** Tag the image was pushed under or released from; absent for a push by digest. */
  tag?: string;
  digest: string;
  /** Platforms as os/architecture[/variant], attestation entries (unknown/unknown) left out. */
  platforms: string[];
  /** Annotations of the top-level manifest or index. */
  annotations: Record<string, string>;
  /** Config labels; for an index, those every platform image carries with the same value. */
  labels: Record<string, string>;
  /** Config `created` time as ISO 8601 UTC; for an index, the newest among its images. */
  created?: string;
  /** Bytes of every manifest, config and layer the image is made of. */
  size: number;
}

/** Facts known without reading the registry: a tag, maybe a digest. Image conditions are then left unchecked. */
export interface TagFacts {
  tag?: string;
  digest?: string;
}

/** The outcome of a list of rules against an image. */
export interface RuleEvaluation {
  /** Whether a rule holds (the first one that does is `rule`). */
  matched: boolean;
  /** Path of the rule that held, e.g. `triggers[1]` or `stages[3].when`. */
  rule?: string;
  /** Name of that rule, when it has one. */
  name?: string;
  /** For a match, the conditions that held; otherwise, every condition that failed, each prefixed with its path. */
  reasons: string[];
  /** Paths of conditions that could not be checked for lack of facts (treated as holding). */
  unchecked: string[];
}

function hasImageFacts(facts: ImageFacts | TagFacts): facts is ImageFacts {
  return 'platforms' in facts;
}

function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]} (${bytes} bytes)`;
}

/** Maximum length of a label or annotation value quoted in a reason, because reasons are kept in workflow history. */
const MAX_QUOTED_VALUE = 80;

function quoteValue(value: string | undefined): string {
  const text = JSON.stringify(value);
  return value !== undefined && value.length > MAX_QUOTED_VALUE
    ? `${JSON.stringify(value.slice(0, MAX_QUOTED_VALUE))}…`
    : text;
}

function checkKeyValues(
  kind: 'label' | 'annotation',
  conditions: Record<string, import('./text-condition').TextCondition>,
  values: Record<string, string>,
): ConditionOutcome[] {
  return Object.entries(conditions).map(([key, condition]) =>
    matchText(condition, values[key], `${kind} ${key}=${quoteValue(values[key])}`, `${kind} ${key} is not set`),
  );
}

/** Checks each image condition that is present, in a fixed order, with the key it was written under. */
function checkImage(image: ImageConditions, facts: ImageFacts): [string, ConditionOutcome][] {
  const outcomes: [string, ConditionOutcome][] = [];
  if (image.platforms) {
    const absent = image.platforms.filter((platform) => !facts.platforms.includes(platform));
    const present = facts.platforms.length > 0 ? facts.platforms.join(', ') : 'none';
    outcomes.push([
      'platforms',
      absent.length === 0
        ? { passed: true, reason: `platforms ${image.platforms.join(', ')} are present` }
        : { passed: false, reason: `platform ${absent.join(', ')} missing; the image has ${present}` },
    ]);
  }
  if (image.annotations) {
    for (const outcome of checkKeyValues('annotation', image.annotations, facts.annotations)) {
      outcomes.push(['annotations', outcome]);
    }
  }
  if (image.labels) {
    for (const outcome of checkKeyValues('label', image.labels, facts.labels)) {
      outcomes.push(['labels', outcome]);
    }
  }
  if (image.createdAfter !== undefined) {
    outcomes.push(['createdAfter', compareCreated(facts.created, image.createdAfter, 'after')]);
  }
  if (image.createdBefore !== undefined) {
    outcomes.push(['createdBefore', compareCreated(facts.created, image.createdBefore, 'before')]);
  }
  if (image.size) {
    const { min, max } = image.size;
    const tooSmall = min !== undefined && facts.size < min;
    const tooLarge = max !== undefined && facts.size > max;
    let reason = `size ${formatBytes(facts.size)} is within bounds`;
    if (tooSmall) {
      reason = `size ${formatBytes(facts.size)} is below the minimum ${formatBytes(min)}`;
    } else if (tooLarge) {
      reason = `size ${formatBytes(facts.size)} is above the maximum ${formatBytes(max)}`;
    }
    outcomes.push(['size', { passed: !tooSmall && !tooLarge, reason }]);
  }
  return outcomes;
}

function compareCreated(created: string | undefined, bound: string, side: 'before' | 'after'): ConditionOutcome {
  if (created === undefined) {
    return { passed: false, reason: 'the image config has no created time' };
  }
  const time = Date.parse(created);
  const limit = Date.parse(bound);
  const passed = side === 'after' ? time > limit : time < limit;
  return { passed, reason: `created ${created} is ${passed ? '' : 'not '}${side} ${bound}` };
}

/** Evaluates one rule: every part it names must hold. Reasons are prefixed with `path`. */
export function evaluateRule(
  rule: PolicyRule,
  facts: ImageFacts | TagFacts,
  path: string,
): { matched: boolean; reasons: string[]; unchecked: string[] } {
  const outcomes: [string, ConditionOutcome][] = [];
  const unchecked: string[] = [];

  if (rule.tag) {
    outcomes.push([
      `${path}.tag`,
      matchText(
        rule.tag,
        facts.tag,
        `tag ${JSON.stringify(facts.tag)}`,
        'no tag: the image was pushed or released by digest alone',
      ),
    ]);
  }
  if (rule.digest !== undefined) {
    if (facts.digest === undefined) {
      unchecked.push(`${path}.digest`);
    } else {
      const passed = facts.digest === rule.digest;
      outcomes.push([
        `${path}.digest`,
        { passed, reason: passed ? `digest is ${rule.digest}` : `digest ${facts.digest} is not ${rule.digest}` },
      ]);
    }
  }
  if (rule.image) {
    if (hasImageFacts(facts)) {
      for (const [key, outcome] of checkImage(rule.image, facts)) {
        outcomes.push([`${path}.image.${key}`, outcome]);
      }
    } else {
      unchecked.push(`${path}.image`);
    }
  }

  const matched = outcomes.every(([, outcome]) => outcome.passed);
  const reasons = outcomes
    .filter(([, outcome]) => outcome.passed === matched)
    .map(([where, outcome]) => `${where}: ${outcome.reason}`);
  if (matched) {
    // Unchecked parts count as holding, so a match may rest on them alone; the reasons must say so.
    reasons.push(...unchecked.map((where) => `${where}: not checked without reading the registry, counted as holding`));
  }
  return { matched, reasons, unchecked };
}

/**
 * Evaluates rules in order and stops at the first that holds. No rules means no match: a pipeline
 * without triggers never starts a release by itself.
 */
export function evaluateTrigger(
  rules: readonly PolicyRule[] | undefined,
  facts: ImageFacts | TagFacts,
  basePath = 'triggers',
): RuleEvaluation {
  if (!rules || rules.length === 0) {
    return { matched: false, reasons: [`${basePath}: the pipeline has no triggers`], unchecked: [] };
  }
  const failures: string[] = [];
  const unchecked: string[] = [];
  for (const [index, rule] of rules.entries()) {
    const path = `${basePath}[${index}]`;
    const outcome = evaluateRule(rule, facts, path);
    if (outcome.matched) {
      return { matched: true, rule: path, name: rule.name, reasons: outcome.reasons, unchecked: outcome.unchecked };
    }
    failures.push(...outcome.reasons);
    unchecked.push(...outcome.unchecked);
  }
  return { matched: false, reasons: failures, unchecked };
}

/** Evaluates a stage's `when`; a stage without one is always entered. */
export function evaluateWhen(
  when: PolicyRule | undefined,
  facts: ImageFacts | TagFacts,
  stageIndex: number,
): RuleEvaluation {
  const path = `stages[${stageIndex}].when`;
  if (!when) {
    return { matched: true, reasons: [`stages[${stageIndex}]: no when rule`], unchecked: [] };
  }
  const outcome = evaluateRule(when, facts, path);
  return { ...outcome, rule: path, name: when.name };
}

/** Returns whether any rule needs facts read from the registry (anything beyond the tag and the digest). */
export function needsImageFacts(rules: readonly (PolicyRule | undefined)[]): boolean {
  return rules.some((rule) => rule?.image !== undefined);
}
