import { type Command } from 'commander';
import { loadPipelineFile } from '../config/load';
import type { Pipeline } from '../config/schema';
import { RegistryClient } from '../oci/client';
import type { ImageFacts, TagFacts } from '../policy/evaluate';
import { gatherImageFacts } from '../policy/facts';
import { planRelease, type ReleasePlan } from '../policy/plan';
import { runAction } from './action';
import { sourceReference } from './options';
import { type Fact, printFacts, printJson } from './output';
import { registerWatchCommands } from './policy-watch';

interface CheckOptionValues {
  offline?: boolean;
  json?: boolean;
}

/** The image a check is about, with the facts read (or, offline, only the tag or digest given). */
interface CheckedImage {
  reference: string;
  facts: ImageFacts | TagFacts;
}

async function readImage(pipeline: Pipeline, source: string, offline: boolean): Promise<CheckedImage> {
  let reference = sourceReference(pipeline, source);
  const tag = reference.tag;
  if (offline) {
    const facts: TagFacts = { tag, digest: reference.digest };
    return { reference: reference.toString(), facts };
  }

  const registry = new RegistryClient({ insecureRegistries: pipeline.insecureRegistries });
  try {
    const descriptor = await registry.resolve(reference);
    reference = reference.withDigest(descriptor.digest);
    const facts = await gatherImageFacts(registry, reference, { tag });
    return { reference: reference.toString(), facts };
  } finally {
    await registry.close();
  }
}

function triggerFacts(plan: ReleasePlan): Fact[] {
  const { trigger } = plan;
  if (trigger.matched) {
    const name = trigger.name ? ` (${trigger.name})` : '';
    return [['trigger', `${trigger.rule}${name} matches: ${trigger.reasons.join('; ')}`]];
  }
  return [
    ['trigger', 'none matches, so a push of this image starts no release'],
    ...trigger.reasons.map((reason): Fact => ['  why', reason]),
  ];
}

function stageFacts(plan: ReleasePlan): Fact[] {
  const prefix = plan.trigger.matched ? '' : 'if started by hand: ';
  const facts: Fact[] = [['stages', `${prefix}${plan.enters.length > 0 ? plan.enters.join(', ') : 'none'}`]];
  if (plan.stoppedBy) {
    facts.push(['stopped', `before ${plan.stoppedBy.stage} by ${plan.stoppedBy.rule}`]);
    facts.push(...plan.stoppedBy.reasons.map((reason): Fact => ['  why', reason]));
  }
  return facts;
}

/** Runs `promote policy check`: evaluates triggers and when rules for one image, starting nothing. */
async function runCheck(file: string, source: string, options: CheckOptionValues): Promise<void> {
  const pipeline = loadPipelineFile(file);
  const image = await readImage(pipeline, source, options.offline ?? false);
  const plan = planRelease(pipeline, image.facts);
  const unchecked = [...plan.trigger.unchecked, ...plan.stages.flatMap((stage) => stage.when?.unchecked ?? [])];

  if (options.json) {
    printJson({ pipeline: pipeline.name, image: image.reference, facts: image.facts, ...plan, unchecked });
    return;
  }
  printFacts([
    ['pipeline', pipeline.name],
    ['image', image.reference],
    ...triggerFacts(plan),
    ...stageFacts(plan),
    ['unchecked', unchecked.length > 0 ? `${unchecked.join(', ')} (offline: counted as holding)` : undefined],
  ]);
}

/** Registers `promote policy` and its subcommands. */
export function registerPolicyCommands(program: Command): void {
  const policy = program.command('policy').description('Check and run promotion policies: triggers and when rules');
  policy
    .command('check')
    .description(
      'Say which trigger a push of TAG or DIGEST to the source repository matches (or why none does) and which ' +
        'stages its release would enter. Starts nothing. Reads the image from the registry unless --offline.',
    )
    .argument('<file>', 'pipeline file')
    .argument(
      '<tag-or-digest>',
      "tag or digest in the first stage's repository, e.g. v1.2.3 or sha256:<64 hex>, or a full reference to it",
    )
    .option('--offline', 'do not read the registry; image and digest conditions are not checked')
    .option('--json', 'print the plan as one JSON document')
    .action(runAction(runCheck));
  registerWatchCommands(policy);
}
