import type { Readable } from 'node:stream';
import { openVerifiedBlob } from './blob';
import { copyImage, type CopyOptions, type CopyResult } from './copy';
import type { Descriptor, Digest } from './digest';
import { getManifest, getTagDigest, putManifest, resolveManifest, type FetchedManifest } from './manifest';
import type { ProgressListener } from './progress';
import type { Reference } from './reference';
import { listTags } from './tags';
import { Transport, type TransportOptions } from './transport';

export interface RegistryClientOptions extends TransportOptions {
  /** Blobs streamed at once during a copy; default 4. */
  concurrency?: number;
  /** `put` (default): one streamed PUT per blob; `patch`: streamed PATCH then an empty PUT, for registries that need it. */
  uploadMethod?: 'put' | 'patch';
}

/** The registry operations the rest of the product uses: resolve, copy by digest, tag, list, read. */
export class RegistryClient {
  private readonly transport: Transport;

  constructor(private readonly options: RegistryClientOptions = {}) {
    this.transport = new Transport(options);
  }

  /** Returns whether requests to `registry` go over plain HTTP: a loopback registry, or one named as insecure. */
  usesPlainHttp(registry: string): boolean {
    return this.transport.usesPlainHttp(registry);
  }

  /** Resolves a tag or digest to the manifest's descriptor with HEAD, falling back to GET; rejects schema 1. */
  resolve(ref: Reference, signal?: AbortSignal): Promise<Descriptor> {
    return resolveManifest(this.transport, ref, signal);
  }

  /** Fetches a manifest's exact bytes, verified against the reference's digest when it has one. */
  fetchManifest(ref: Reference, signal?: AbortSignal): Promise<FetchedManifest> {
    return getManifest(this.transport, ref, signal);
  }

  /** Copies the image graph at `src` to `dst` by digest; see copyImage. */
  copy(
    src: Reference,
    dst: Reference,
    options: { onProgress?: ProgressListener; signal?: AbortSignal; referrers?: boolean } = {},
  ): Promise<CopyResult> {
    const copyOptions: CopyOptions = {
      concurrency: this.options.concurrency,
      uploadMethod: this.options.uploadMethod,
      referrers: options.referrers,
      onProgress: options.onProgress,
      signal: options.signal,
    };
    return copyImage(this.transport, src, dst, copyOptions);
  }

  /**
   * Points `tag` at the manifest `ref.digest` in the same repository: GETs its exact bytes and PUTs them
   * under the tag, checking the digest the registry stored. Idempotent.
   */
  async putTag(ref: Reference, tag: string, signal?: AbortSignal): Promise<Descriptor> {
    if (ref.digest === undefined) {
      throw new TypeError(`putTag needs a reference with a digest, got ${ref.toString()}`);
    }
    const manifest = await getManifest(this.transport, ref.withoutIdentifier().withDigest(ref.digest), signal);
    return putManifest(this.transport, ref.withTag(tag), manifest, signal);
  }

  /** Returns the digest `ref`'s tag points at, or undefined when the tag does not exist. */
  getTagDigest(ref: Reference, signal?: AbortSignal): Promise<Digest | undefined> {
    return getTagDigest(this.transport, ref, signal);
  }

  /** Lists the repository's tags, following pagination; empty for an unknown repository. */
  listTags(repo: Reference, signal?: AbortSignal): Promise<string[]> {
    return listTags(this.transport, repo, signal);
  }

  /**
   * Opens a blob for reading. The stream fails with DigestMismatchError instead of delivering its last
   * chunk when the content does not match `digest`. `size` is taken from a HEAD when not given.
   */
  async openBlob(repo: Reference, digest: Digest, signal?: AbortSignal, size?: number): Promise<Readable> {
    return openVerifiedBlob(this.transport, repo, digest, size ?? (await this.blobSize(repo, digest, signal)), signal);
  }

  /** Closes the connection pool; the client must not be used afterwards. */
  close(): Promise<void> {
    return this.transport.close();
  }

  private async blobSize(repo: Reference, digest: Digest, signal?: AbortSignal): Promise<number> {
    const response = await this.transport.request({
      method: 'HEAD',
      registry: repo.registry,
      repository: repo.repository,
      path: `/v2/${repo.repository}/blobs/${digest}`,
      actions: ['pull'],
      expect: [200],
      signal,
    });
    await response.body.dump();
    const length = Number(response.headers['content-length']);
    if (!Number.isSafeInteger(length)) {
      throw new Error(`blob ${repo.name}@${digest}: the registry sent no Content-Length for HEAD`);
    }
    return length;
  }
}
