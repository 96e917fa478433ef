/**
 * Inputs and results of the activities. They go into workflow history, so they carry references, digests and small
 * summaries only: never credentials, manifest bytes or blob content.
 */
import type { Hook } from '../src/config/schema';
import type { HookResult, LedgerEntry, LockRequest } from '../workflows/messages';

export interface ResolveDigestInput {
  /** Image reference, by tag or digest. */
  reference: string;
  /** The pipeline's `insecureRegistries`, which the worker must reach over plain HTTP as well. */
  insecureRegistries?: string[];
}

/** Descriptor of a resolved manifest. */
export interface ResolvedImage {
  digest: string;
  mediaType: string;
  size: number;
}

export interface CopyImageInput {
  /** Source image by digest, `registry/repository@sha256:…`. */
  source: string;
  /** Target repository, `registry/repository`, without tag or digest. */
  repository: string;
  /** Also copy the referrers of the image and of its index's manifests, and theirs in turn. */
  referrers?: boolean;
}

/** Counts of the manifests and blobs a copy handled. */
export interface CopySummary {
  digest: string;
  mediaType: string;
  manifests: number;
  blobsCopied: number;
  blobsMounted: number;
  blobsSkipped: number;
  bytesUploaded: number;
  /** Referrers found at the source; 0 unless the stage copies referrers. */
  referrers: number;
}

/** Progress of a copy, sent as heartbeat details so a retry can report where the previous attempt stopped. */
export interface CopyProgress {
  blobsDone: number;
  bytesDone: number;
}

export interface TagInput {
  /** Repository, `registry/repository`. */
  repository: string;
  tag: string;
}

/** Digest a tag points at; null when the tag does not exist. */
export interface TagState {
  digest: string | null;
}

export interface MoveTagInput extends TagInput {
  /** Digest of a manifest already present in the repository. */
  digest: string;
}

export interface RunHookInput {
  hook: Hook;
  pipeline: string;
  stage: string;
  /** Release workflow ID, given to the hook as PROMOTE_RELEASE. */
  release: string;
  /** Stage repository the image was promoted into. */
  repository: string;
  digest: string;
}

export interface RequestStageLockInput {
  pipeline: string;
  stage: string;
  request: LockRequest;
}

export interface ReadStageLedgerInput {
  pipeline: string;
  stage: string;
}

/** Activity functions as the workflows see them. */
export interface Activities {
  resolveDigest(input: ResolveDigestInput): Promise<ResolvedImage>;
  copyImage(input: CopyImageInput): Promise<CopySummary>;
  readTag(input: TagInput): Promise<TagState>;
  moveTag(input: MoveTagInput): Promise<TagState>;
  deleteTag(input: TagInput): Promise<TagState>;
  runHook(input: RunHookInput): Promise<HookResult>;
  requestStageLock(input: RequestStageLockInput): Promise<void>;
  readStageLedger(input: ReadStageLedgerInput): Promise<LedgerEntry[]>;
}
