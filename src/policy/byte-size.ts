import { z } from 'zod';

const UNIT_BYTES: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};
const BYTE_SIZE_PATTERN = /^(\d+(?:\.\d+)?)\s*([a-z]+)?$/i;

/** Parses `1500`, `500MB`, `1.5GiB` into bytes (kB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024). */
export function parseByteSize(text: string): number | undefined {
  const match = BYTE_SIZE_PATTERN.exec(text.trim());
  if (!match) {
    return undefined;
  }
  const unit = UNIT_BYTES[(match[2] ?? 'b').toLowerCase()];
  if (unit === undefined) {
    return undefined;
  }
  return Math.round(Number(match[1]) * unit);
}

/** A size in bytes, written as a number or as a number and a unit (B, kB, MB, GB, TB, KiB, MiB, GiB, TiB). */
export const byteSizeSchema = z.unknown().transform((value, context) => {
  let bytes: number | undefined;
  if (typeof value === 'number') {
    bytes = value;
  } else if (typeof value === 'string') {
    bytes = parseByteSize(value);
  }
  if (bytes === undefined || !Number.isFinite(bytes) || bytes < 0) {
    context.addIssue({
      code: 'custom',
      message: `invalid size ${JSON.stringify(value)}; expected a number of bytes or a number and a unit, e.g. 500MB, 1.5GiB`,
    });
    return z.NEVER;
  }
  return bytes;
});
