/**
 * A test hook that checks a file inside the promoted image. The worker runs command hooks with PROMOTE_IMAGE set to
 * the stage's repository and the release's digest, so this reads the very image the stage's tags point at, pulled
 * by digest from that stage's registry.
 *
 *   node --import tsx examples/hooks/check-image-file.ts --file app/config.json --contains '"logLevel": "info"'
 *
 * Options: --file PATH (required), --contains TEXT (repeatable; every TEXT must occur in the file),
 * --image REF (default: $PROMOTE_IMAGE), --platform OS/ARCH for a multi-platform image (default linux/amd64),
 * --insecure-registry HOST:PORT (repeatable; loopback registries are always reached over plain HTTP).
 * Registry credentials come from the docker config, as for the worker.
 *
 * Exit codes: 0 the file exists and contains every TEXT; 1 it is missing or lacks a TEXT; 2 bad usage, or the
 * image could not be read.
 */
import { parseArgs } from 'node:util';
import { RegistryClient } from '../../src/oci/client';
import { Reference } from '../../src/oci/reference';
import { readImageFile } from './image-files';

const USAGE =
  'usage: check-image-file.ts --file PATH [--contains TEXT]... [--image REF] [--platform OS/ARCH] ' +
  '[--insecure-registry HOST:PORT]...';

interface CheckOptions {
  image: Reference;
  file: string;
  contains: string[];
  platform: string;
  insecureRegistries: string[];
}

function parseOptions(argv: string[]): CheckOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      file: { type: 'string' },
      contains: { type: 'string', multiple: true, default: [] },
      image: { type: 'string' },
      platform: { type: 'string', default: 'linux/amd64' },
      'insecure-registry': { type: 'string', multiple: true, default: [] },
    },
    strict: true,
  });
  if (values.file === undefined) {
    throw new Error(`missing --file PATH, the file to check, e.g. --file app/config.json\n${USAGE}`);
  }
  const image = values.image ?? process.env.PROMOTE_IMAGE;
  if (image === undefined) {
    throw new Error(`missing image: expected --image REF or PROMOTE_IMAGE, which the worker sets for hooks\n${USAGE}`);
  }
  return {
    image: Reference.parse(image),
    file: values.file,
    contains: values.contains,
    platform: values.platform,
    insecureRegistries: values['insecure-registry'],
  };
}

async function check(options: CheckOptions): Promise<boolean> {
  const registry = new RegistryClient({ insecureRegistries: options.insecureRegistries });
  try {
    const found = await readImageFile(registry, options.image, options.file, options.platform);
    if (found === undefined) {
      console.log(`FAIL ${options.file} is not in ${options.image.toString()}`);
      return false;
    }
    const text = found.content.toString('utf8');
    console.log(`found ${options.file} (${found.content.length} bytes) in layer ${found.layerDigest}`);
    const missing = options.contains.filter((expected) => !text.includes(expected));
    for (const expected of options.contains) {
      const verdict = missing.includes(expected) ? 'FAIL does not contain' : 'ok   contains';
      console.log(`${verdict} ${expected}`);
    }
    if (missing.length > 0) {
      console.log(`--- ${options.file} ---\n${text.slice(0, 2000)}`);
    }
    return missing.length === 0;
  } finally {
    await registry.close();
  }
}

async function main(): Promise<number> {
  let options: CheckOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`check-image-file: ${(error as Error).message}`);
    return 2;
  }
  try {
    return (await check(options)) ? 0 : 1;
  } catch (error) {
    console.error(`check-image-file: cannot read ${options.image.toString()}: ${(error as Error).message}`);
    return 2;
  }
}

void main().then((code) => {
  process.exitCode = code;
});
