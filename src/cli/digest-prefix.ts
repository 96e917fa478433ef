/**
 * Digest options that also take a prefix. Tables print digests as `sha256:` and 12 hex digits, so a person can copy
 * that form into `rollback --to` or `approve --digest`, where the command has every digest the option may name.
 */
import { type Digest, InvalidDigestError, parseDigest } from '../oci/digest';
import { CliError, ExitCode } from './exit-codes';

/** Minimum number of hex digits in a prefix: as many as the tables print. */
export const MIN_PREFIX_HEX_DIGITS = 12;

/** A digest option's value: a full digest, or a prefix to match against the digests the command has read. */
export type DigestArgument = { digest: Digest } | { prefix: string; algorithm?: string; hex: string };

const PREFIX_PATTERN = /^(?:(sha256|sha512):)?([0-9a-f]+)$/;

/**
 * Parses a digest option: `sha256:<64 hex>`, or a prefix of at least 12 hex digits with or without `sha256:`.
 * Throws InvalidDigestError for any other text, and a CliError (bad input) for a prefix that is too short.
 */
export function parseDigestArgument(text: string, option: string): DigestArgument {
  try {
    return { digest: parseDigest(text) };
  } catch (error) {
    const match = PREFIX_PATTERN.exec(text);
    if (!(error instanceof InvalidDigestError) || !match) {
      throw error;
    }
    const [, algorithm, hex] = match;
    if (hex.length < MIN_PREFIX_HEX_DIGITS) {
      throw new CliError(
        ExitCode.BadInput,
        `${option} ${text}: a digest prefix needs at least ${MIN_PREFIX_HEX_DIGITS} hex digits, not ${hex.length}; ` +
          'expected sha256:<64 hex> or its first 12 or more hex digits, e.g. sha256:3cb85ad7a5bb',
        { cause: error },
      );
    }
    // A prefix as long as a whole digest of its algorithm is a full digest, which parseDigest rejected already.
    if (hex.length >= (algorithm === 'sha512' ? 128 : 64)) {
      throw error;
    }
    return { prefix: text, algorithm, hex };
  }
}

/**
 * Returns the digest an argument names among `candidates`. A full digest is returned as given, listed or not, so
 * that the caller's own check explains why it does not fit. A prefix must match exactly one candidate; `where`
 * names the candidates in the error, e.g. `the ledger of web/prod`.
 */
export function resolveDigestArgument(
  argument: DigestArgument,
  candidates: Iterable<string | null | undefined>,
  option: string,
  where: string,
): string {
  if ('digest' in argument) {
    return argument.digest;
  }
  const matches = new Set<string>();
  for (const candidate of candidates) {
    if (candidate && matchesPrefix(candidate, argument)) {
      matches.add(candidate);
    }
  }
  if (matches.size === 1) {
    return [...matches][0];
  }
  if (matches.size === 0) {
    throw new CliError(ExitCode.BadInput, `${option} ${argument.prefix} matches no digest in ${where}`);
  }
  throw new CliError(
    ExitCode.BadInput,
    `${option} ${argument.prefix} matches ${matches.size} digests in ${where}: ${[...matches].join(', ')}; ` +
      'give more hex digits or the whole digest',
  );
}

function matchesPrefix(candidate: string, argument: { algorithm?: string; hex: string }): boolean {
  const colon = candidate.indexOf(':');
  const algorithm = candidate.slice(0, colon);
  const hex = candidate.slice(colon + 1);
  return (argument.algorithm === undefined || argument.algorithm === algorithm) && hex.startsWith(argument.hex);
}
