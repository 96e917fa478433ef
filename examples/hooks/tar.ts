/**
 * A streaming reader for the tar archives of image layers: POSIX ustar with pax extended headers and GNU long
 * names, which covers what Docker, BuildKit and other image builders write. It keeps only the entry it looks for.
 */
import type { Readable } from 'node:stream';

const BLOCK = 512;

/** Pulls exact byte counts out of a stream of chunks. */
class ByteReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private readonly iterator: AsyncIterator<Buffer>;

  constructor(stream: Readable) {
    this.iterator = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  /** Returns the next `size` bytes, or undefined when the stream ends first. */
  async read(size: number): Promise<Buffer | undefined> {
    while (this.buffered < size) {
      const next = await this.iterator.next();
      if (next.done) {
        return undefined;
      }
      this.chunks.push(next.value);
      this.buffered += next.value.length;
    }
    const all = Buffer.concat(this.chunks);
    this.chunks = [all.subarray(size)];
    this.buffered = all.length - size;
    return all.subarray(0, size);
  }

  /** Skips `size` bytes without keeping them; a file of any size passes in chunk-sized pieces. */
  async skip(size: number): Promise<void> {
    let left = size;
    while (left > 0) {
      if (this.buffered === 0) {
        const next = await this.iterator.next();
        if (next.done) {
          throw new Error('the tar archive ends inside an entry');
        }
        this.chunks = [next.value];
        this.buffered = next.value.length;
      }
      const all = Buffer.concat(this.chunks);
      const taken = Math.min(left, all.length);
      this.chunks = [all.subarray(taken)];
      this.buffered = all.length - taken;
      left -= taken;
    }
  }
}

interface Header {
  path: string;
  type: string;
  size: number;
}

function text(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? length : end).toString('utf8');
}

/** Reads a numeric field: octal text, or base-256 when the high bit of the first byte is set (GNU, for large files). */
function number(block: Buffer, offset: number, length: number): number {
  if (block[offset] & 0x80) {
    let value = block[offset] & 0x7f;
    for (let i = 1; i < length; i++) {
      value = value * 256 + block[offset + i];
    }
    return value;
  }
  const digits = text(block, offset, length).trim();
  return digits === '' ? 0 : parseInt(digits, 8);
}

function parseHeader(block: Buffer): Header {
  const name = text(block, 0, 100);
  const prefix = text(block, 257, 5) === 'ustar' ? text(block, 345, 155) : '';
  return {
    path: prefix ? `${prefix}/${name}` : name,
    type: text(block, 156, 1) || '0',
    size: number(block, 124, 12),
  };
}

/** Reads the `path` record of a pax extended header ("<length> path=<value>\n" records). */
function paxPath(content: Buffer): string | undefined {
  let offset = 0;
  while (offset < content.length) {
    const space = content.indexOf(0x20, offset);
    const length = parseInt(content.subarray(offset, space).toString('ascii'), 10);
    if (space < 0 || !Number.isSafeInteger(length) || length <= 0) {
      return undefined;
    }
    const record = content.subarray(space + 1, offset + length - 1).toString('utf8');
    if (record.startsWith('path=')) {
      return record.slice('path='.length);
    }
    offset += length;
  }
  return undefined;
}

function padded(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}

function clean(path: string): string {
  return path.replace(/^(\.?\/)+/, '').replace(/\/$/, '');
}

/**
 * Scans one layer for `path` (without leading `./` or `/`). Returns the file's content, `'deleted'` when the layer
 * contains a whiteout for it (`.wh.<name>` next to it), or undefined when the layer does not mention it.
 * NOTE: opaque directory whiteouts (`.wh..wh..opq`) are not followed, so a file under a directory that a layer
 * replaced wholesale may be reported from a lower layer.
 */
export async function readTarFile(stream: Readable, path: string): Promise<Buffer | 'deleted' | undefined> {
  const slash = path.lastIndexOf('/');
  const whiteout = `${path.slice(0, slash + 1)}.wh.${path.slice(slash + 1)}`;
  const reader = new ByteReader(stream);
  let longName: string | undefined;

  for (;;) {
    const block = await reader.read(BLOCK);
    if (block === undefined || block.every((byte) => byte === 0)) {
      return undefined;
    }
    const header = parseHeader(block);
    if (header.type === 'x' || header.type === 'L') {
      const content = await reader.read(padded(header.size));
      if (content === undefined) {
        throw new Error('the tar archive ends inside an extended header');
      }
      const body = content.subarray(0, header.size);
      longName = header.type === 'x' ? paxPath(body) : text(body, 0, body.length);
      continue;
    }

    const entryPath = clean(longName ?? header.path);
    longName = undefined;
    if (entryPath === whiteout) {
      await reader.skip(padded(header.size));
      return 'deleted';
    }
    const isFile = header.type === '0' || header.type === '7';
    if (isFile && entryPath === path) {
      const content = await reader.read(padded(header.size));
      if (content === undefined) {
        throw new Error(`the tar archive ends inside ${path}`);
      }
      return content.subarray(0, header.size);
    }
    await reader.skip(padded(header.size));
  }
}
