import { createHash, type Hash } from 'node:crypto';

/** A content digest, `algorithm:hex`, e.g. `sha256:<64 lowercase hex>`. Only parseDigest and the hashers create one. */
export type Digest = string & { readonly __brand: 'Digest' };

/** Hash algorithms this client can verify, with the length of their lowercase hex encoding. */
const HEX_LENGTH: Record<string, number> = { sha256: 64, sha512: 128 };

/** Thrown when a string is not a digest of a supported algorithm. */
export class InvalidDigestError extends Error {
  constructor(
    readonly input: string,
    readonly reason: string,
  ) {
    super(`invalid digest "${input}": ${reason}; expected sha256:<64 lowercase hex>, e.g. sha256:${'0'.repeat(64)}`);
    this.name = 'InvalidDigestError';
  }
}

/** Parses `algorithm:hex`, accepting sha256 and sha512 with lowercase hex of the exact length. */
export function parseDigest(text: string): Digest {
  const colon = text.indexOf(':');
  if (colon < 0) {
    throw new InvalidDigestError(text, "the ':' between algorithm and hex is missing");
  }
  const algorithm = text.slice(0, colon);
  const hex = text.slice(colon + 1);
  const length = HEX_LENGTH[algorithm];
  if (length === undefined) {
    throw new InvalidDigestError(text, `algorithm "${algorithm}" is not supported (use sha256 or sha512)`);
  }
  if (!/^[0-9a-f]*$/.test(hex)) {
    throw new InvalidDigestError(text, `the ${algorithm} hex part must contain only 0-9 and a-f`);
  }
  if (hex.length !== length) {
    throw new InvalidDigestError(text, `a ${algorithm} digest has ${length} hex characters, not ${hex.length}`);
  }
  return text as Digest;
}

/** Returns whether `text` is a digest parseDigest accepts. */
export function isDigest(text: string): text is Digest {
  try {
    parseDigest(text);
    return true;
  } catch {
    return false;
  }
}

/** Returns the algorithm part of a digest, e.g. `sha256`. */
export function digestAlgorithm(digest: Digest): string {
  return digest.slice(0, digest.indexOf(':'));
}

/** Returns the sha256 digest of `bytes`. */
export function sha256(bytes: Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest;
}

/** Returns the digest of `bytes` computed with the algorithm of `like`, for checking bytes against `like`. */
export function digestWithAlgorithmOf(like: Digest, bytes: Uint8Array): Digest {
  const algorithm = digestAlgorithm(like);
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}` as Digest;
}

/** Incremental hash of a byte stream, checked against an expected digest at the end. */
export class DigestVerifier {
  private readonly hash: Hash;
  private bytes = 0;

  constructor(readonly expected: Digest) {
    this.hash = createHash(digestAlgorithm(expected));
  }

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
  }

  /** Number of bytes hashed so far. */
  get size(): number {
    return this.bytes;
  }

  /** Finishes the hash and returns the digest of everything passed to update; call once. */
  finish(): Digest {
    return `${digestAlgorithm(this.expected)}:${this.hash.digest('hex')}` as Digest;
  }
}

/** A content descriptor as in the OCI image specification: what a manifest or index points at. */
export interface Descriptor {
  mediaType: string;
  digest: Digest;
  /** Size in bytes. */
  size: number;
  /** Download locations of a foreign layer; such blobs are not copied between registries. */
  urls?: string[];
  platform?: Platform;
  annotations?: Record<string, string>;
  artifactType?: string;
}

/** The platform an index entry runs on. Attestation manifests use `unknown/unknown`. */
export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  features?: string[];
}
