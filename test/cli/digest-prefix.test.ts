import { parseDigestArgument, resolveDigestArgument } from '../../src/cli/digest-prefix';
import { CliError } from '../../src/cli/exit-codes';
import { InvalidDigestError } from '../../src/oci/digest';

const first = `sha256:3cb85ad7a5bb${'1'.repeat(52)}`;
const second = `sha256:3cb85ad7a5bb${'2'.repeat(52)}`;
const other = `sha256:${'a'.repeat(64)}`;

function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

describe('parseDigestArgument', () => {
  it('returns a full digest as a digest', () => {
    expect(parseDigestArgument(first, '--to')).toEqual({ digest: first });
  });

  it.each([
    ['with the algorithm', 'sha256:3cb85ad7a5bb', 'sha256'],
    ['without the algorithm', '3cb85ad7a5bb1', undefined],
  ])('accepts a prefix %s', (_, text, algorithm) => {
    expect(parseDigestArgument(text, '--to')).toEqual({ prefix: text, algorithm, hex: text.replace('sha256:', '') });
  });

  it('rejects a prefix shorter than 12 hex digits', () => {
    const error = thrown(() => parseDigestArgument('sha256:3cb85ad7a5b', '--to'));
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(2);
    expect(error.message).toBe(
      '--to sha256:3cb85ad7a5b: a digest prefix needs at least 12 hex digits, not 11; ' +
        'expected sha256:<64 hex> or its first 12 or more hex digits, e.g. sha256:3cb85ad7a5bb',
    );
  });

  it.each([
    ['upper-case hex', 'sha256:3CB85AD7A5BB'],
    ['an unknown algorithm', 'md5:3cb85ad7a5bb'],
    ['too many hex digits', `${first}0`],
  ])('rejects %s as an invalid digest', (_, text) => {
    expect(thrown(() => parseDigestArgument(text, '--to'))).toBeInstanceOf(InvalidDigestError);
  });
});

describe('resolveDigestArgument', () => {
  const ledger = [first, null, second, other, first];

  it('returns the one candidate a prefix matches', () => {
    const argument = parseDigestArgument(`sha256:3cb85ad7a5bb${'2'.repeat(4)}`, '--to');
    expect(resolveDigestArgument(argument, ledger, '--to', 'the ledger')).toBe(second);
  });

  it('matches a prefix without the algorithm', () => {
    expect(resolveDigestArgument(parseDigestArgument('aaaaaaaaaaaa', '--to'), ledger, '--to', 'the ledger')).toBe(
      other,
    );
  });

  it('returns a full digest even when no candidate has it', () => {
    const absent = `sha256:${'b'.repeat(64)}`;
    expect(resolveDigestArgument(parseDigestArgument(absent, '--to'), ledger, '--to', 'the ledger')).toBe(absent);
  });

  it('names every match of an ambiguous prefix', () => {
    const argument = parseDigestArgument('sha256:3cb85ad7a5bb', '--to');
    const error = thrown(() => resolveDigestArgument(argument, ledger, '--to', 'the ledger'));
    expect(error).toBeInstanceOf(CliError);
    expect(error.message).toBe(
      `--to sha256:3cb85ad7a5bb matches 2 digests in the ledger: ${first}, ${second}; ` +
        'give more hex digits or the whole digest',
    );
  });

  it('says where a prefix matched nothing', () => {
    const argument = parseDigestArgument('sha256:000000000000', '--digest');
    const error = thrown(() =>
      resolveDigestArgument(argument, [other], '--digest', `release r, whose digest is ${other}`),
    );
    expect((error as CliError).exitCode).toBe(2);
    expect(error.message).toBe(`--digest sha256:000000000000 matches no digest in release r, whose digest is ${other}`);
  });

  it('keeps the algorithm of a prefix apart', () => {
    const sha512 = `sha512:3cb85ad7a5bb${'3'.repeat(116)}`;
    const argument = parseDigestArgument('sha512:3cb85ad7a5bb', '--to');
    expect(resolveDigestArgument(argument, [first, sha512], '--to', 'the ledger')).toBe(sha512);
  });
});
