import { userInfo } from 'node:os';
import { type Command, InvalidArgumentError } from 'commander';
import { type Pipeline, type Stage } from '../config/schema';
import { parseDigest } from '../oci/digest';
import { Reference } from '../oci/reference';
import { type ConnectionFlags } from '../temporal/client';
import { CliError, ExitCode } from './exit-codes';

/** Options every Temporal subcommand accepts, as commander parses them. */
export interface ConnectionOptionValues {
  address?: string;
  namespace?: string;
  profile?: string;
  apiKey?: string;
  tls?: boolean;
  json?: boolean;
}

/**
 * Adds the connection flags and --json. Connection flags override TEMPORAL_* variables and the
 * profile, as in the Temporal CLI.
 */
export function addCommonOptions(command: Command): Command {
  return command
    .option(
      '--address <host:port>',
      'Temporal frontend address (default: TEMPORAL_ADDRESS, the profile, 127.0.0.1:7233)',
    )
    .option('--namespace <name>', 'Temporal namespace (default: TEMPORAL_NAMESPACE, the profile, default)')
    .option('--profile <name>', 'profile in the Temporal config file (default: TEMPORAL_PROFILE, default)')
    .option('--api-key <key>', 'Temporal API key (default: TEMPORAL_API_KEY, the profile); turns TLS on')
    .option('--tls', 'connect to Temporal over TLS')
    .option('--no-tls', 'connect to Temporal over plain TCP even when the profile or an API key turns TLS on')
    .option('--json', 'print one JSON document instead of text');
}

/** Picks the connection flags out of parsed options. */
export function connectionFlagsOf(options: ConnectionOptionValues): ConnectionFlags {
  return {
    address: options.address,
    namespace: options.namespace,
    profile: options.profile,
    apiKey: options.apiKey,
    tls: options.tls,
  };
}

/** Returns the person acting when --as is not given: $USER, else the operating system's name for the current user. */
export function defaultPerson(): string {
  if (process.env.USER) {
    return process.env.USER;
  }
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** Help text for --as: the name is taken as given, so gates rely on who may run the command. */
export const ASSERTED_IDENTITY =
  'the caller asserts this name and promote does not authenticate it, so restrict who can reach Temporal';

/** Parses --as: a name with surrounding spaces removed, which must not be empty. */
export function parsePerson(value: string): string {
  const person = value.trim();
  if (person.length === 0) {
    throw new InvalidArgumentError(`expected a non-empty name, e.g. alice, got ${JSON.stringify(value)}`);
  }
  return person;
}

/** Finds a stage by name; an unknown name is bad input that lists the stages there are. */
export function findStage(pipeline: Pipeline, name: string): Stage {
  const stage = pipeline.stages.find((candidate) => candidate.name === name);
  if (!stage) {
    throw new CliError(
      ExitCode.BadInput,
      `unknown stage "${name}" in pipeline ${pipeline.name}; expected one of: ${pipeline.stages.map((s) => s.name).join(', ')}`,
    );
  }
  return stage;
}

/** Finds a stage that images are promoted into, which excludes the source stage; errors list only those stages. */
export function findTargetStage(pipeline: Pipeline, name: string): Stage {
  const targets = pipeline.stages.slice(1);
  const stage = targets.find((candidate) => candidate.name === name);
  if (stage) {
    return stage;
  }
  const expected = `expected one of: ${targets.map((target) => target.name).join(', ')}`;
  if (pipeline.stages[0].name === name) {
    throw new CliError(
      ExitCode.BadInput,
      `stage "${name}" is the source of pipeline ${pipeline.name}, where CI pushes; nothing is promoted into it, ` +
        `so it has no ledger; ${expected}`,
    );
  }
  throw new CliError(ExitCode.BadInput, `unknown stage "${name}" in pipeline ${pipeline.name}; ${expected}`);
}

/** Parses an option value that must be a positive integer, such as --limit. */
export function parsePositiveInteger(value: string): number {
  const parsed = Number(value);
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(parsed) || parsed < 1) {
    throw new InvalidArgumentError(`expected a positive integer, e.g. 20, got ${JSON.stringify(value)}`);
  }
  return parsed;
}

const TAG_PATTERN = /^[\w][\w.-]{0,127}$/;
/** Text that starts like a digest; parseDigest then checks the rest. */
const DIGEST_LIKE = /^sha(?:256|384|512):/;

/**
 * Resolves the image a command is about to a reference in the pipeline's source repository (its first
 * stage, where CI pushes): a bare tag (`1.4.2`) or digest (`sha256:…`) means that tag or digest there, and a
 * full reference must name that repository. A release only ever starts from the source repository, so an
 * image elsewhere, which was never pushed to it, is bad input rather than a way in.
 */
export function sourceReference(pipeline: Pipeline, text: string | undefined): Reference {
  const source = pipeline.stages[0];
  const repository = Reference.parse(source.repository);
  if (text === undefined) {
    // The latest tag is the usual thing CI pushes and people release.
    return repository.withTag('latest');
  }
  if (TAG_PATTERN.test(text)) {
    return repository.withTag(text);
  }
  if (DIGEST_LIKE.test(text)) {
    return repository.withDigest(parseDigest(text));
  }

  const reference = Reference.parse(text);
  if (!reference.sameRepository(repository)) {
    throw new CliError(
      ExitCode.BadInput,
      `source ${text} is not in ${repository.name}, the repository of the first stage "${source.name}" of ` +
        `pipeline ${pipeline.name}, where releases start; expected a tag or digest there, e.g. 1.4.2, ` +
        `sha256:<64 hex> or ${repository.name}:1.4.2`,
    );
  }
  return reference;
}
