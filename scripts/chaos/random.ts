/**
 * Seeded randomness for the chaos run. Every decision the run makes (image contents, failing hooks, start times,
 * kill times, which request gets which fault) comes from here, so the same seed gives the same plan.
 */
import { createHash } from 'node:crypto';

/** A pseudo-random sequence (mulberry32); not for cryptography, only for repeatable plans. */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Returns a number in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Returns an integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** Returns a number in [min, max). */
  between(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** Returns `length` bytes of the sequence. */
  bytes(length: number): Buffer {
    const buffer = Buffer.alloc(length);
    for (let offset = 0; offset < length; offset += 4) {
      const word = Math.floor(this.next() * 4294967296);
      for (let i = 0; i < 4 && offset + i < length; i += 1) {
        buffer[offset + i] = (word >>> (8 * i)) & 0xff;
      }
    }
    return buffer;
  }

  /** Returns an independent sequence for one purpose, so that adding draws elsewhere does not shift this one. */
  fork(purpose: string): SeededRandom {
    return new SeededRandom(hashToUint32(`${this.state}:${purpose}`));
  }
}

/** Returns a number in [0, 1) that depends only on `parts`: the same request seen again gets the same value. */
export function hashToUnit(...parts: (string | number)[]): number {
  return hashToUint32(parts.join('\u0000')) / 4294967296;
}

function hashToUint32(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0);
}
