// Pure types and constants, imported by workflows as well as by the sending activity.

/** Kinds of release event a pipeline's webhook receives, in the order a release usually produces them. */
export const RELEASE_EVENT_KINDS = [
  'release.started',
  'stage.awaiting-approval',
  'stage.promoted',
  'stage.rolled-back',
  'release.completed',
  'release.failed',
  'release.superseded',
  'release.rejected',
  'release.expired',
] as const;

export type ReleaseEventKind = (typeof RELEASE_EVENT_KINDS)[number];

/** The JSON body of one webhook delivery. */
export interface ReleaseEvent {
  /** Unique per event and stable across retries (`<releaseId>/<runId>/<sequence>`), so receivers can drop duplicates. */
  id: string;
  kind: ReleaseEventKind;
  pipeline: string;
  /** Stage the event is about; absent for release.started. */
  stage?: string;
  digest: string;
  /** Workflow ID of the release. */
  releaseId: string;
  /** Run ID of the release; differs between a release and a forced release of the same digest. */
  runId: string;
  /** Position of the event within its release, from 1; receivers can order deliveries by it. */
  sequence: number;
  /** When the workflow produced the event, ISO 8601 UTC. */
  time: string;
  /** Free-form context: the failure reason, the digest a stage rolled back to, the approvers awaited. */
  detail?: Record<string, string | number | boolean | string[]>;
}

/** Where a pipeline's events go, as loaded from its file. */
export interface EventsWebhook {
  url: string;
  /** Name of the environment variable, on the worker, that holds the HMAC secret. */
  secretEnv: string;
  /** Kinds to send; all when absent. */
  kinds?: ReleaseEventKind[];
}
