import { type Command, InvalidArgumentError } from 'commander';
import { type CopyResult, Reference, RegistryClient } from '../oci';
import { ProgressRenderer } from './progress';

interface CopyOptionValues {
  json?: boolean;
  insecure: string[];
  concurrency: number;
  uploadMethod: 'put' | 'patch';
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
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

function summary(src: Reference, dst: Reference, result: CopyResult, seconds: number): string {
  const { copied, mounted, skipped } = result.blobs;
  const mebibytes = (result.bytesUploaded / (1024 * 1024)).toFixed(1);
  return (
    `copied ${src.toString()} to ${dst.toString()}: ${result.manifests} manifests; blobs: ${copied} uploaded, ` +
    `${mounted} mounted, ${skipped} already present; ${mebibytes} MiB uploaded in ${seconds.toFixed(2)} s`
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
    const result = await client.copy(src, dst, { onProgress: renderer?.onProgress, signal: controller.signal });
    renderer?.close();
    if (options.json) {
      const { digest, mediaType, size, manifests, blobs, bytesUploaded } = result;
      process.stdout.write(JSON.stringify({ digest, mediaType, size, manifests, blobs, bytesUploaded }) + '\n');
    } else {
      process.stdout.write(`${result.digest}\n`);
      process.stderr.write(summary(src, dst, result, (performance.now() - started) / 1000) + '\n');
    }
  } finally {
    renderer?.close();
    process.off('SIGINT', interrupt);
    await client.close();
  }
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
    .option('--json', 'print {digest, mediaType, size, manifests, blobs, bytesUploaded} as JSON')
    .option('--insecure <registry>', 'reach this registry (host[:port]) over plain HTTP; repeatable', collect, [])
    .option('--concurrency <n>', 'blobs copied at once', positiveInteger, 4)
    .option('--upload-method <method>', 'put: one streamed PUT per blob; patch: PATCH then PUT', uploadMethod, 'put')
    .action((source: string, destination: string, options: CopyOptionValues) => runCopy(source, destination, options));
}
