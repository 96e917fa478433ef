import { type Command, InvalidArgumentError } from 'commander';
import { type CopyResult, DigestMismatchError, Reference, RegistryClient } from '../oci';
import { ProgressRenderer } from './progress';
import { collectRegistryHost } from './registry-option';

/** Thrown for a copy that cannot work as asked, whatever the registries hold; the command exits 2. */
export class BadCopyInputError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'BadCopyInputError';
  }
}

interface CopyOptionValues {
  json?: boolean;
  insecure: string[];
  concurrency: number;
  uploadMethod: 'put' | 'patch';
  referrers?: boolean;
}

function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(parsed) || parsed < 1) {
    throw new InvalidArgumentError(`expected a positive integer, e.g. 4, got ${JSON.stringify(value)}`);
  }
  return parsed;
}

function uploadMethod(value: string): 'put' | 'patch' {
  if (value !== 'put' && value !== 'patch') {
    throw new InvalidArgumentError(`expected put or patch, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Returns `1 manifest` or `2 manifests`. */
function counted(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function summary(src: Reference, dst: Reference, result: CopyResult, seconds: number, referrers: boolean): string {
  const referrerCount = referrers ? `; ${counted(result.referrers, 'referrer')}` : '';
  if (result.alreadyPresent) {
    const repository = dst.withoutIdentifier().toString();
    const tagged = dst.tag === undefined ? '' : `, and tag ${dst.tag} now points at it`;
    return (
      `${repository} had ${result.digest} already, so no blob was sent${tagged}${referrerCount}; ` +
      `done in ${seconds.toFixed(2)} s`
    );
  }
  const { copied, mounted, skipped } = result.blobs;
  const mebibytes = (result.bytesUploaded / (1024 * 1024)).toFixed(1);
  return (
    `copied ${src.toString()} to ${dst.toString()}: ${counted(result.manifests, 'manifest')}${referrerCount}; blobs: ` +
    `${copied} uploaded, ${mounted} mounted, ${skipped} already present; ${mebibytes} MiB uploaded in ` +
    `${seconds.toFixed(2)} s`
  );
}

/**
 * Turns the engine's refusal of a destination digest that differs from the source's into bad input: a copy keeps
 * the digest, so `dst@digest` must name the source's digest.
 */
function describeDestinationDigest(dst: Reference, error: unknown): unknown {
  if (!(error instanceof DigestMismatchError) || dst.digest === undefined || error.expected !== dst.digest) {
    return error;
  }
  return new BadCopyInputError(
    `destination ${dst.toString()} names digest ${dst.digest}, but the source is ${error.actual}; a copy keeps ` +
      `the digest, so name the destination by tag or as ${dst.withoutIdentifier().toString()}@${error.actual}`,
  );
}

/** Runs `promote copy`: copies an image graph by digest and prints its digest. */
async function runCopy(source: string, destination: string, options: CopyOptionValues): Promise<void> {
  const src = Reference.parse(source);
  const dst = Reference.parse(destination);
  const client = new RegistryClient({
    insecureRegistries: options.insecure,
    concurrency: options.concurrency,
    uploadMethod: options.uploadMethod,
  });
  const renderer = process.stderr.isTTY && !options.json ? new ProgressRenderer(process.stderr) : undefined;
  const controller = new AbortController();
  const interrupt = () => controller.abort(new Error('interrupted'));
  process.once('SIGINT', interrupt);

  const started = performance.now();
  try {
    const result = await client
      .copy(src, dst, { onProgress: renderer?.onProgress, signal: controller.signal, referrers: options.referrers })
      .catch((error: unknown) => {
        throw describeDestinationDigest(dst, error);
      });
    renderer?.close();
    if (options.json) {
      const { digest, mediaType, size, manifests, blobs, bytesUploaded, referrers, alreadyPresent } = result;
      const printed = {
        digest,
        mediaType,
        size,
        manifests,
        blobs,
        bytesUploaded,
        alreadyPresent,
        ...(options.referrers && { referrers }),
      };
      process.stdout.write(JSON.stringify(printed) + '\n');
    } else {
      process.stdout.write(`${result.digest}\n`);
      process.stderr.write(
        summary(src, dst, result, (performance.now() - started) / 1000, Boolean(options.referrers)) + '\n',
      );
    }
  } finally {
    renderer?.close();
    process.off('SIGINT', interrupt);
    await client.close();
  }
}

/**
 * Prints a failed copy's error like every other command: the message on stderr and, with --json, the same
 * `{"error":{"message","exitCode"}}` object on stdout. The exit code mapping is loaded only on failure, because it
 * imports the Temporal client, which a copy does not need.
 */
async function reportCopyError(error: unknown, json: boolean): Promise<number> {
  const [{ exitCodeOf }, { printErrorJson }] = await Promise.all([import('./exit-codes.js'), import('./output.js')]);
  const exitCode = exitCodeOf(error);
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`promote: ${message}\n`);
  if (json) {
    printErrorJson(message, exitCode);
  }
  return exitCode;
}

/** Adds `promote copy SRC DST`. */
export function registerCopyCommand(program: Command): void {
  program
    .command('copy')
    .description(
      'Copy an image by digest (an index with all its platforms and attestations, or one image) from SRC to DST, ' +
        'keeping the digest. Prints the digest.',
    )
    .argument('<src>', 'source reference, e.g. registry.example.com/team/app:1.4.2 or ...@sha256:<64 hex>')
    .argument('<dst>', 'destination reference; its tag is set to the copied digest (default tag: latest)')
    .option(
      '--json',
      'print {digest, mediaType, size, manifests, blobs, bytesUploaded, alreadyPresent} as JSON, and referrers ' +
        'with --referrers',
    )
    .option(
      '--insecure <registry>',
      'reach this registry (host[:port]) over plain HTTP; repeatable',
      collectRegistryHost,
      [],
    )
    .option('--concurrency <n>', 'blobs copied at once', positiveInteger, 4)
    .option('--upload-method <method>', 'put: one streamed PUT per blob; patch: PATCH then PUT', uploadMethod, 'put')
    .option(
      '--referrers',
      'also copy the referrers (signatures, SBOMs, attestations naming the image as subject), before the tag',
    )
    .action(async (source: string, destination: string, options: CopyOptionValues) => {
      try {
        await runCopy(source, destination, options);
      } catch (error) {
        process.exitCode = await reportCopyError(error, Boolean(options.json));
      }
    });
}
