import { setMaxListeners } from 'node:events';
import { cancelUpload } from './blob';
import { Limiter } from './concurrency';
import { planBlob, uploadBlob } from './copy-blob';
import type { Descriptor, Digest } from './digest';
import { DigestMismatchError } from './errors';
import { type FetchedManifest, getManifest, manifestExists, parseManifestContent, putManifest } from './manifest';
import type { ProgressListener } from './progress';
import { addToReferrersTag, listReferrers } from './referrers';
import type { Reference } from './reference';
import type { Transport } from './transport';

/** Blob checks (HEAD, or a mount on the same registry) in flight at once, apart from the streams. */
const BLOB_CHECK_CONCURRENCY = 8;

export interface CopyOptions {
  /** Blobs streamed at once; default 4. */
  concurrency?: number;
  /** Manifest requests in flight at once while walking an index; default 8. */
  manifestConcurrency?: number;
  /** `put` (default): one streamed PUT per blob; `patch`: streamed PATCH, then an empty PUT. */
  uploadMethod?: 'put' | 'patch';
  /** Attempts per streamed blob after a retryable failure, the first included; default 3. */
  blobAttempts?: number;
  /**
   * Also copies the referrers (signatures, SBOMs, attestations: manifests whose `subject` is the image, or a
   * manifest of its index) and their referrers in turn, before the destination tag is written.
   */
  referrers?: boolean;
  onProgress?: ProgressListener;
  signal?: AbortSignal;
}

export interface CopyResult {
  digest: Digest;
  mediaType: string;
  size: number;
  /** Manifests pushed, the root included, plus child manifests the destination had (their children are not walked). */
  manifests: number;
  /** `skipped` counts blobs the destination had and foreign layers, which stay at their URLs. */
  blobs: { copied: number; mounted: number; skipped: number };
  /** Blob bytes sent in completed uploads; manifests excluded. */
  bytesUploaded: number;
  /** Referrers found at the source, each copied unless the destination had it; 0 unless referrers were requested. */
  referrers: number;
  /**
   * Whether the destination repository had the root manifest already. Its graph is then complete there and not
   * walked, so `manifests` and `blobs` count only what the copy wrote (the tag, referrers).
   */
  alreadyPresent: boolean;
}

/** One copy of an image graph; tracks shared work so a blob or manifest used twice is copied once. */
class GraphCopy {
  private readonly controller = new AbortController();
  private readonly signal: AbortSignal;
  private readonly blobLimiter: Limiter;
  private readonly checkLimiter = new Limiter(BLOB_CHECK_CONCURRENCY);
  private readonly manifestLimiter: Limiter;
  private readonly blobs = new Map<Digest, Promise<void>>();
  private readonly manifests = new Map<Digest, Promise<void>>();
  private readonly tasks: Promise<unknown>[] = [];
  private firstError: unknown;
  private readonly referrersSeen = new Set<Digest>();
  readonly result = { manifests: 0, blobs: { copied: 0, mounted: 0, skipped: 0 }, bytesUploaded: 0, referrers: 0 };

  constructor(
    private readonly transport: Transport,
    private readonly src: Reference,
    private readonly dst: Reference,
    private readonly options: CopyOptions,
  ) {
    this.signal = options.signal ? AbortSignal.any([options.signal, this.controller.signal]) : this.controller.signal;
    // Every request in flight listens on this signal; more than Node's default of 10 is expected.
    setMaxListeners(0, this.signal);
    this.blobLimiter = new Limiter(options.concurrency ?? 4);
    this.manifestLimiter = new Limiter(options.manifestConcurrency ?? 8);
  }

  /** Copies the root manifest's graph and pushes the root under `target`; rejects with the first failure. */
  run(root: FetchedManifest, target: Reference): Promise<void> {
    return this.guarded(() => this.copyManifest(root, target));
  }

  /**
   * Copies the referrers of the root and of the manifests its index lists, then their referrers in turn. A referrer
   * the destination has is not copied again. A destination without the referrers API gets each referrer added to
   * its referrers tag.
   */
  runReferrers(root: FetchedManifest): Promise<void> {
    const content = parseManifestContent(this.src.withDigest(root.descriptor.digest), root);
    const children = content.kind === 'index' ? content.manifests.map((child) => child.digest) : [];
    return this.guarded(async () => {
      let subjects = [root.descriptor.digest, ...children];
      while (subjects.length > 0) {
        const found = await Promise.all(subjects.map((subject) => this.copyReferrersOf(subject)));
        subjects = found.flat();
      }
    });
  }

  /** Copies the referrers of one subject and returns those not seen before, whose own referrers come next. */
  private async copyReferrersOf(subject: Digest): Promise<Digest[]> {
    const source = this.src.withoutIdentifier();
    const destination = this.dst.withoutIdentifier();
    const { referrers } = await this.manifestLimiter.run(() =>
      listReferrers(this.transport, source, subject, this.signal),
    );
    if (referrers.length === 0) {
      return [];
    }
    await Promise.all(referrers.map((referrer) => this.copyChild(referrer)));
    const listed = await this.manifestLimiter.run(() =>
      listReferrers(this.transport, destination, subject, this.signal),
    );
    if (listed.source === 'tag') {
      await addToReferrersTag(this.transport, destination, subject, listed.referrers, referrers, this.signal);
    }
    const unseen = referrers.map((referrer) => referrer.digest).filter((digest) => !this.referrersSeen.has(digest));
    unseen.forEach((digest) => this.referrersSeen.add(digest));
    this.result.referrers += unseen.length;
    return unseen;
  }

  /** Runs `work`; on a failure, aborts the other tasks, waits for them and rejects with the first failure. */
  private async guarded(work: () => Promise<void>): Promise<void> {
    try {
      await this.track(work());
    } catch (error) {
      this.controller.abort(error);
      await Promise.allSettled(this.tasks);
      throw this.firstError ?? error;
    }
  }

  /** Registers a task so that a failure aborts the others and run waits for all of them before returning. */
  private track<T>(task: Promise<T>): Promise<T> {
    const tracked = task.catch((error: unknown) => {
      if (this.firstError === undefined && !this.signal.aborted) {
        this.firstError = error;
      }
      this.controller.abort(error);
      throw error;
    });
    this.tasks.push(tracked);
    return tracked;
  }

  /** Copies everything `manifest` references, then pushes it: blobs before an image, children before an index. */
  private async copyManifest(manifest: FetchedManifest, target: Reference): Promise<void> {
    const { descriptor } = manifest;
    const content = parseManifestContent(this.src.withDigest(descriptor.digest), manifest);
    this.result.manifests += 1;
    if (content.kind === 'index') {
      await Promise.all(content.manifests.map((child) => this.copyChild(child)));
    } else {
      const blobs = content.config === undefined ? [...content.layers] : [content.config, ...content.layers];
      // Largest first: checks start in call order and the streams in about that order, and a long blob started
      // last would run alone at the end.
      blobs.sort((a, b) => b.size - a.size);
      await Promise.all(blobs.map((blob) => this.copyBlobOnce(blob)));
    }
    await putManifest(this.transport, target, manifest, this.signal);
    this.options.onProgress?.({ kind: 'manifest-pushed', digest: descriptor.digest, mediaType: descriptor.mediaType });
  }

  /** Copies a child manifest unless the destination has it, in which case its registry has its whole graph. */
  private copyChild(child: Descriptor): Promise<void> {
    let pending = this.manifests.get(child.digest);
    if (pending === undefined) {
      pending = this.track(this.copyChildManifest(child));
      this.manifests.set(child.digest, pending);
    }
    return pending;
  }

  private async copyChildManifest(child: Descriptor): Promise<void> {
    const source = this.src.withDigest(child.digest);
    const target = this.dst.withoutIdentifier().withDigest(child.digest);
    const [fetched, exists] = await this.manifestLimiter.run(() =>
      Promise.all([
        getManifest(this.transport, source, this.signal),
        manifestExists(this.transport, target, child.digest, this.signal),
      ]),
    );
    if (exists) {
      this.result.manifests += 1;
      return;
    }
    await this.copyManifest(fetched, target);
  }

  private copyBlobOnce(blob: Descriptor): Promise<void> {
    let pending = this.blobs.get(blob.digest);
    if (pending === undefined) {
      pending = this.track(this.copyOneBlob(blob));
      this.blobs.set(blob.digest, pending);
    }
    return pending;
  }

  /**
   * Checks (or mounts) a blob, then streams it if needed. A check is one small request, so checks run apart from
   * the streams and no stream slot waits for one.
   */
  private async copyOneBlob(blob: Descriptor): Promise<void> {
    const options = {
      uploadMethod: this.options.uploadMethod ?? 'put',
      attempts: this.options.blobAttempts ?? 3,
      onProgress: this.options.onProgress,
      signal: this.signal,
    };
    const plan = await this.checkLimiter.run(() => {
      this.signal.throwIfAborted();
      return planBlob(this.transport, this.src, this.dst, blob, options);
    });
    if (plan.outcome !== 'upload') {
      this.result.blobs[plan.outcome] += 1;
      return;
    }

    await this.blobLimiter.run(async () => {
      if (this.signal.aborted && plan.session !== undefined) {
        // The session a declined mount opened would otherwise stay open until the registry expires it.
        await cancelUpload(this.transport, this.dst, plan.session);
      }
      this.signal.throwIfAborted();
      return uploadBlob(this.transport, this.src, this.dst, blob, plan.session, options);
    });
    this.result.blobs.copied += 1;
    this.result.bytesUploaded += blob.size;
  }
}

/** Returns where the root manifest goes: the destination tag, else its digest, else `latest` as docker does. */
function rootTarget(dst: Reference, digest: Digest): Reference {
  if (dst.digest !== undefined && dst.digest !== digest) {
    throw new DigestMismatchError(`destination ${dst.toString()}`, dst.digest, digest);
  }
  if (dst.tag !== undefined) {
    return dst.withTag(dst.tag);
  }
  return dst.digest !== undefined ? dst : dst.withTag('latest');
}

/**
 * Copies an image by digest: the manifest at `src` (an index with every child, nested indexes and
 * attestation manifests included, or a single image) with every blob, pushed byte for byte so the
 * destination digest equals the source digest. Blobs go first, then child manifests, then the root, so
 * the destination tag appears only once everything it references is there. When the destination
 * repository already has the root digest, only the tag is written.
 */
export async function copyImage(
  transport: Transport,
  src: Reference,
  dst: Reference,
  options: CopyOptions = {},
): Promise<CopyResult> {
  // One destination token covers every request of the copy there, including mounts from the source repository. It
  // is requested while the source manifest is read. A failure here shows again in the request that needs the token.
  const mountFrom = src.registry === dst.registry ? [src.repository] : [];
  transport
    .authorize({
      registry: dst.registry,
      repository: dst.repository,
      actions: ['pull', 'push'],
      extraPullScopes: mountFrom,
      signal: options.signal,
    })
    .catch(() => undefined);
  const root = await getManifest(transport, src, options.signal);
  const { digest, mediaType, size } = root.descriptor;
  const target = rootTarget(dst, digest);
  const copy = new GraphCopy(transport, src.withDigest(digest), dst, options);

  const exists = await manifestExists(transport, dst, digest, options.signal);
  if (!exists) {
    // With referrers, the root goes in by digest and the tag comes last, so that a deployment that follows the tag
    // finds the referrers (signatures, say) already there.
    const firstTarget = options.referrers ? dst.withoutIdentifier().withDigest(digest) : target;
    await copy.run(root, firstTarget);
    if (firstTarget === target) {
      return { digest, mediaType, size, ...copy.result, alreadyPresent: false };
    }
  }
  if (options.referrers) {
    await copy.runReferrers(root);
  }
  if (target.tag !== undefined) {
    await putManifest(transport, target, root, options.signal);
    options.onProgress?.({ kind: 'manifest-pushed', digest, mediaType });
  }
  // A root the destination had counts as one manifest, as a child manifest it had does.
  const manifests = copy.result.manifests + (exists ? 1 : 0);
  return { digest, mediaType, size, ...copy.result, manifests, alreadyPresent: exists };
}
