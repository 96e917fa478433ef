/** Registry activities: resolve, copy, read, move and delete tags. Each is a thin call into the registry engine. */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { RegistryClient } from '../src/oci/client';
import { parseDigest } from '../src/oci/digest';
import { Reference } from '../src/oci/reference';
import type { Transport } from '../src/oci/transport';
import { deleteTag } from './delete-tag';
import { withActivityFailures } from './failures';
import type {
  CopyImageInput,
  CopyProgress,
  CopySummary,
  MoveTagInput,
  ResolveDigestInput,
  ResolvedImage,
  TagInput,
  TagState,
} from './types';

/**
 * Interval of heartbeat calls while a copy runs, also when no blob reports progress (a slow mount, a large
 * manifest walk). Heartbeat replies carry cancellation, so this bounds how late a cancelled copy stops.
 */
const COPY_HEARTBEAT_INTERVAL_MS = 1000;

/** Interval of heartbeat calls during the short activities, whose stubs time out after 10 s without a heartbeat. */
const SHORT_HEARTBEAT_INTERVAL_MS = 1000;

/** Runs `work` and heartbeats while it runs, so that the server notices a dead worker by the heartbeat timeout. */
async function heartbeating<T>(work: () => Promise<T>): Promise<T> {
  const context = Context.current();
  const timer = setInterval(() => context.heartbeat(), SHORT_HEARTBEAT_INTERVAL_MS);
  context.heartbeat();
  try {
    return await withActivityFailures(work);
  } finally {
    clearInterval(timer);
  }
}

/**
 * Fails a release whose pipeline reaches a registry over plain HTTP that this worker reaches over HTTPS. The worker
 * decides which registries go without TLS (`--insecure-registry`), so that a pipeline file cannot make it send its
 * credentials in clear text. Without this check, each request would fail the TLS handshake and be retried for minutes.
 */
function checkInsecureRegistries(registry: RegistryClient, listed: string[]): void {
  const overHttps = listed.filter((host) => !registry.usesPlainHttp(host));
  if (overHttps.length > 0) {
    const flags = overHttps.map((host) => `--insecure-registry ${host}`).join(' ');
    throw ApplicationFailure.nonRetryable(
      `the pipeline lists ${overHttps.join(', ')} in insecureRegistries, but this worker reaches ` +
        `${overHttps.length === 1 ? 'it' : 'them'} over HTTPS; start the worker with ${flags} to allow plain HTTP`,
      'InsecureRegistryError',
    );
  }
}

export function createRegistryActivities(registry: RegistryClient, transport: Transport | undefined) {
  return {
    /** Resolves a reference to its manifest's descriptor. Idempotent: it only reads. */
    resolveDigest: async (input: ResolveDigestInput): Promise<ResolvedImage> => {
      checkInsecureRegistries(registry, input.insecureRegistries ?? []);
      return heartbeating(async () => {
        const descriptor = await registry.resolve(
          Reference.parse(input.reference),
          Context.current().cancellationSignal,
        );
        return { digest: descriptor.digest, mediaType: descriptor.mediaType, size: descriptor.size };
      });
    },

    /**
     * Copies the image graph at `source` (by digest) into `repository`, by digest only: no tag is written, so a
     * half-finished copy never changes what a tag points at. Idempotent: blobs and manifests the target already
     * has are found by HEAD and skipped, so a retry after a crash uploads only what is missing. Heartbeats carry
     * `{ blobsDone, bytesDone }`, and cancellation aborts the transfers in flight. With `referrers`, the referrers of the
     * image come along, and a retry adds only those the target lacks.
     */
    copyImage: async (input: CopyImageInput): Promise<CopySummary> => {
      const context = Context.current();
      const source = Reference.parse(input.source);
      if (source.digest === undefined) {
        throw ApplicationFailure.nonRetryable(
          `copy source ${input.source} has no digest; expected registry/repository@sha256:<64 hex>`,
          'InvalidReferenceError',
        );
      }
      const target = Reference.parse(input.repository).withoutIdentifier().withDigest(source.digest);

      const previous = context.info.heartbeatDetails as CopyProgress | undefined;
      if (previous) {
        context.log.info('Copy resumes after an earlier attempt', { digest: source.digest, ...previous });
      }
      const progress: CopyProgress = { blobsDone: 0, bytesDone: 0 };
      const timer = setInterval(() => context.heartbeat(progress), COPY_HEARTBEAT_INTERVAL_MS);
      context.heartbeat(progress);
      try {
        const result = await withActivityFailures(() =>
          registry.copy(source, target, {
            signal: context.cancellationSignal,
            referrers: input.referrers,
            onProgress: (event) => {
              if (event.kind === 'blob-skipped' || event.kind === 'blob-mounted' || event.kind === 'blob-verified') {
                progress.blobsDone += 1;
                progress.bytesDone += event.size;
                context.heartbeat(progress);
              }
            },
          }),
        );
        return {
          digest: result.digest,
          mediaType: result.mediaType,
          manifests: result.manifests,
          blobsCopied: result.blobs.copied,
          blobsMounted: result.blobs.mounted,
          blobsSkipped: result.blobs.skipped,
          bytesUploaded: result.bytesUploaded,
          referrers: result.referrers,
        };
      } finally {
        clearInterval(timer);
      }
    },

    /** Returns the digest a tag points at, null when the tag does not exist. Idempotent: it only reads. */
    readTag: async (input: TagInput): Promise<TagState> => {
      return heartbeating(async () => {
        const ref = Reference.parse(input.repository).withoutIdentifier().withTag(input.tag);
        const digest = await registry.getTagDigest(ref, Context.current().cancellationSignal);
        return { digest: digest ?? null };
      });
    },

    /**
     * Points a tag at a manifest already in the same repository, PUTting the manifest's exact bytes, then reads the
     * tag back and fails unless it points at `digest`. Idempotent: PUTting the same bytes under the same tag again
     * changes nothing.
     */
    moveTag: async (input: MoveTagInput): Promise<TagState> => {
      return heartbeating(async () => {
        // Cancellation, which heartbeats deliver, does not abort the move: a PUT cut off mid-flight could still land
        // after the rollback that follows the cancellation.
        const digest = parseDigest(input.digest);
        const repository = Reference.parse(input.repository).withoutIdentifier();
        const tagged = repository.withTag(input.tag);
        await registry.putTag(repository.withDigest(digest), input.tag);
        const found = await registry.getTagDigest(tagged);
        if (found !== input.digest) {
          // Another writer moved the tag between our PUT and the read; retrying the move is the right response.
          throw ApplicationFailure.retryable(
            `tag ${tagged.toString()} points at ${found ?? 'nothing'} after moving it to ${input.digest}`,
            'TagVerificationError',
          );
        }
        return { digest: found };
      });
    },

    /**
     * Deletes a tag (not the manifest it points at), then reads it back and fails unless it is gone. Idempotent: a
     * tag that is already absent counts as deleted.
     */
    deleteTag: async (input: TagInput): Promise<TagState> => {
      if (!transport) {
        throw ApplicationFailure.nonRetryable(
          'deleting a tag needs the registry transport; pass `transport` to createActivities',
          'ConfigurationError',
        );
      }
      const registryTransport = transport;
      return heartbeating(async () => {
        // Not aborted on cancellation, for the same reason as moveTag.
        const tagged = Reference.parse(input.repository).withoutIdentifier().withTag(input.tag);
        await deleteTag(registryTransport, tagged);
        const found = await registry.getTagDigest(tagged);
        if (found !== undefined) {
          throw ApplicationFailure.retryable(
            `tag ${tagged.toString()} still points at ${found} after deleting it`,
            'TagVerificationError',
          );
        }
        return { digest: null };
      });
    },
  };
}
