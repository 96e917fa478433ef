import type { Descriptor, Digest } from '../oci/digest';
import type { Reference } from '../oci/reference';
import type { ImageFacts } from './evaluate';

/** The registry reads facts need; `RegistryClient` provides them. */
export interface ImageSource {
  fetchManifest(ref: Reference, signal?: AbortSignal): Promise<{ descriptor: Descriptor; bytes: Buffer }>;
  /** `size`, when given, spares a HEAD request for the blob's length. */
  openBlob(ref: Reference, digest: Digest, signal?: AbortSignal, size?: number): Promise<NodeJS.ReadableStream>;
}

/** Image configs are a few kilobytes; a larger one is not read whole into memory. */
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
/** Indexes of indexes exist (an index per release line); deeper nesting than this is refused. */
const MAX_INDEX_DEPTH = 4;
/** Annotation BuildKit sets on index entries that hold attestations rather than runnable images. */
const REFERENCE_TYPE_ANNOTATION = 'vnd.docker.reference.type';

interface ManifestJson {
  mediaType?: string;
  manifests?: {
    digest: Digest;
    size: number;
    mediaType?: string;
    platform?: PlatformJson;
    annotations?: Record<string, string>;
  }[];
  config?: { digest: Digest; size: number; mediaType?: string };
  layers?: { digest: Digest; size: number }[];
  annotations?: Record<string, string>;
}

interface PlatformJson {
  os?: string;
  architecture?: string;
  variant?: string;
}

interface ConfigJson {
  os?: string;
  architecture?: string;
  variant?: string;
  created?: string;
  config?: { Labels?: Record<string, string> | null };
}

/** One runnable image found under the top-level manifest. */
interface ImageSummary {
  platform?: string;
  labels: Record<string, string>;
  created?: string;
}

interface Walk {
  /** Bytes of every distinct manifest and blob seen so far; a layer shared by two platforms counts once. */
  size: number;
  counted: Set<string>;
  images: ImageSummary[];
  platforms: string[];
}

function formatPlatform(platform: PlatformJson | undefined): string | undefined {
  if (!platform?.os || !platform.architecture || platform.os === 'unknown') {
    return undefined;
  }
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/');
}

function parseJson<T>(bytes: Buffer, what: string): T {
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch (error) {
    throw new Error(`${what} is not valid JSON: ${(error as Error).message}`);
  }
}

async function readConfig(
  source: ImageSource,
  repository: Reference,
  config: NonNullable<ManifestJson['config']>,
  signal?: AbortSignal,
): Promise<ConfigJson | undefined> {
  // Artifacts (Helm charts, signatures) have configs that are not image configs; they carry no labels or platform.
  const mediaType = config.mediaType ?? '';
  const isImageConfig = mediaType.endsWith('image.config.v1+json') || mediaType.endsWith('container.image.v1+json');
  if (!isImageConfig || config.size > MAX_CONFIG_BYTES) {
    return undefined;
  }
  const stream = await source.openBlob(repository, config.digest, signal, config.size);
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    chunks.push(Buffer.from(chunk));
  }
  return parseJson<ConfigJson>(Buffer.concat(chunks), `config ${config.digest} of ${repository.toString()}`);
}

function count(walk: Walk, digest: string, size: number): void {
  if (!walk.counted.has(digest)) {
    walk.counted.add(digest);
    walk.size += size;
  }
}

/** Adds a manifest (its bytes already fetched) and everything under it to `walk`. */
async function walkManifest(
  source: ImageSource,
  reference: Reference,
  bytes: Buffer,
  walk: Walk,
  depth: number,
  signal?: AbortSignal,
): Promise<ManifestJson> {
  count(walk, reference.digest ?? '', bytes.length);
  const manifest = parseJson<ManifestJson>(bytes, `manifest ${reference.toString()}`);

  if (manifest.manifests) {
    if (depth >= MAX_INDEX_DEPTH) {
      throw new Error(`${reference.toString()} nests indexes more than ${MAX_INDEX_DEPTH} levels deep`);
    }
    for (const entry of manifest.manifests) {
      const child = reference.withoutIdentifier().withDigest(entry.digest);
      const isAttestation = entry.annotations?.[REFERENCE_TYPE_ANNOTATION] !== undefined;
      const platform = formatPlatform(entry.platform);
      if (platform && !isAttestation && !walk.platforms.includes(platform)) {
        walk.platforms.push(platform);
      }
      const before = walk.images.length;
      const { bytes: childBytes } = await source.fetchManifest(child, signal);
      await walkManifest(source, child, childBytes, walk, depth + 1, signal);
      if (isAttestation) {
        // Attestations count towards the size but are not images: their labels and times say nothing of the build.
        walk.images.splice(before);
      }
    }
    return manifest;
  }

  for (const blob of [...(manifest.config ? [manifest.config] : []), ...(manifest.layers ?? [])]) {
    count(walk, blob.digest, blob.size);
  }
  const config = manifest.config ? await readConfig(source, reference, manifest.config, signal) : undefined;
  if (config) {
    const platform = formatPlatform(config);
    walk.images.push({ platform, labels: config.config?.Labels ?? {}, created: config.created });
  }
  return manifest;
}

/** Labels every image carries with the same value. */
function sharedLabels(images: ImageSummary[]): Record<string, string> {
  if (images.length === 0) {
    return {};
  }
  const [first, ...rest] = images;
  return Object.fromEntries(
    Object.entries(first.labels).filter(([key, value]) => rest.every((image) => image.labels[key] === value)),
  );
}

function newestCreated(images: ImageSummary[]): string | undefined {
  const times = images
    .map((image) => (image.created ? Date.parse(image.created) : Number.NaN))
    .filter((time) => !Number.isNaN(time));
  return times.length > 0 ? new Date(Math.max(...times)).toISOString() : undefined;
}

/**
 * Reads the facts rules are evaluated on from the image's manifest, its children and their configs.
 * `reference` should carry the digest; `tag` is the tag it was pushed under, when known.
 */
export async function gatherImageFacts(
  source: ImageSource,
  reference: Reference,
  options: { tag?: string; signal?: AbortSignal } = {},
): Promise<ImageFacts> {
  const { descriptor, bytes } = await source.fetchManifest(reference, options.signal);
  const walk: Walk = { size: 0, counted: new Set(), images: [], platforms: [] };
  const top = await walkManifest(
    source,
    reference.withoutIdentifier().withDigest(descriptor.digest),
    bytes,
    walk,
    0,
    options.signal,
  );

  if (!top.manifests) {
    const platform = walk.images[0]?.platform;
    if (platform) {
      walk.platforms.push(platform);
    }
  }
  return {
    tag: options.tag ?? reference.tag,
    digest: descriptor.digest,
    platforms: walk.platforms,
    annotations: top.annotations ?? {},
    labels: sharedLabels(walk.images),
    created: newestCreated(walk.images),
    size: walk.size,
  };
}
