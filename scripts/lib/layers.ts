import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';

/** One regular file of a layer; directories are created for its parent path. */
export interface LayerFile {
  path: string;
  content: string | Uint8Array;
  /** Permission bits; default 0o644. */
  mode?: number;
}

/** A file of `size` random bytes, generated while the layer streams so it is never held in memory. */
export interface RandomFile {
  path: string;
  size: number;
}

const BLOCK = 512;
const RANDOM_CHUNK = 1024 * 1024;
/** Fixed modification time so that the same files always make the same layer digest. */
const MTIME = 1_700_000_000;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

/** Builds a POSIX ustar header block for a regular file (`0`) or a directory (`5`). */
function tarHeader(path: string, size: number, mode: number, type: '0' | '5'): Buffer {
  const header = Buffer.alloc(BLOCK);
  let name = path;
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    const split = path.lastIndexOf('/', 155);
    prefix = path.slice(0, split);
    name = path.slice(split + 1);
  }
  if (Buffer.byteLength(name) > 100 || Buffer.byteLength(prefix) > 155) {
    throw new Error(`tar path ${JSON.stringify(path)} is too long for a ustar header (name 100, prefix 155 bytes)`);
  }

  header.write(name, 0, 100, 'utf8');
  header.write(octal(mode, 8), 100, 'ascii');
  header.write(octal(0, 8), 108, 'ascii');
  header.write(octal(0, 8), 116, 'ascii');
  header.write(octal(size, 12), 124, 'ascii');
  header.write(octal(MTIME, 12), 136, 'ascii');
  header.write(' '.repeat(8), 148, 'ascii');
  header.write(type, 156, 'ascii');
  header.write('ustar\0', 257, 'ascii');
  header.write('00', 263, 'ascii');
  header.write('root', 265, 'ascii');
  header.write('root', 297, 'ascii');
  header.write(prefix, 345, 155, 'utf8');

  let checksum = 0;
  for (const byte of header) {
    checksum += byte;
  }
  header.write(checksum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return header;
}

function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

function parentDirectories(paths: string[]): string[] {
  const directories = new Set<string>();
  for (const path of paths) {
    const parts = path.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      directories.add(parts.slice(0, i).join('/') + '/');
    }
  }
  return [...directories].sort();
}

/** Yields an uncompressed tar archive of the files, with their parent directories first. */
export function* tarEntries(files: LayerFile[], random: RandomFile[] = []): Generator<Buffer> {
  for (const directory of parentDirectories([...files, ...random].map((file) => file.path))) {
    yield tarHeader(directory, 0, 0o755, '5');
  }
  for (const file of files) {
    const content = typeof file.content === 'string' ? Buffer.from(file.content) : Buffer.from(file.content);
    yield tarHeader(file.path, content.length, file.mode ?? 0o644, '0');
    yield content;
    yield padding(content.length);
  }
  for (const file of random) {
    yield tarHeader(file.path, file.size, 0o644, '0');
    for (let done = 0; done < file.size; done += RANDOM_CHUNK) {
      yield randomBytes(Math.min(RANDOM_CHUNK, file.size - done));
    }
    yield padding(file.size);
  }
  yield Buffer.alloc(BLOCK * 2);
}

/** Digests and sizes of a layer, known once its stream has ended. */
export interface LayerDigests {
  /** sha256 of the uncompressed tar: the config's `rootfs.diff_ids` entry. */
  diffId: string;
  /** sha256 of the gzip stream: the manifest's layer digest. */
  digest: string;
  size: number;
}

/**
 * Returns a gzip'd tar stream of the files and a promise of its digests. Random files are generated
 * while the stream is read, so a layer of any size streams in constant memory. `level` 0 writes
 * stored deflate blocks, which suits random content that cannot be compressed anyway.
 */
export function gzipLayer(
  files: LayerFile[],
  random: RandomFile[] = [],
  level = 6,
): { stream: AsyncIterable<Buffer>; digests: Promise<LayerDigests> } {
  const tarHash = createHash('sha256');
  const gzipHash = createHash('sha256');
  let size = 0;
  let settle: { resolve: (value: LayerDigests) => void; reject: (error: unknown) => void } | undefined;
  const digests = new Promise<LayerDigests>((resolve, reject) => {
    settle = { resolve, reject };
  });

  function* hashedTar(): Generator<Buffer> {
    for (const chunk of tarEntries(files, random)) {
      tarHash.update(chunk);
      yield chunk;
    }
  }

  async function* hashedGzip(): AsyncGenerator<Buffer> {
    const gzip = Readable.from(hashedTar()).pipe(createGzip({ level }));
    try {
      for await (const chunk of gzip as AsyncIterable<Buffer>) {
        gzipHash.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    } catch (error) {
      settle?.reject(error);
      throw error;
    }
    settle?.resolve({
      diffId: `sha256:${tarHash.digest('hex')}`,
      digest: `sha256:${gzipHash.digest('hex')}`,
      size,
    });
  }

  return { stream: hashedGzip(), digests };
}

/** Builds a whole gzip'd tar layer in memory; for small layers. */
export async function gzipLayerBytes(files: LayerFile[]): Promise<{ bytes: Buffer; diffId: string; digest: string }> {
  const { stream, digests } = gzipLayer(files);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(chunk);
  }
  const { diffId, digest } = await digests;
  return { bytes: Buffer.concat(chunks), diffId, digest };
}
