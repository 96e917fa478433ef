import { z } from 'zod';
import { MANIFEST_MEDIA_TYPES } from '../oci/media-types';

/**
 * Content types of a notification body. CNCF Distribution 2.x sends the v1 media type and 3.x the
 * v2 one (checked with Distribution v3.0.0); the envelope is the same. Other senders post plain JSON.
 */
export const NOTIFICATION_CONTENT_TYPES = [
  'application/vnd.docker.distribution.events.v1+json',
  'application/vnd.docker.distribution.events.v2+json',
  'application/json',
];

const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$|^sha512:[0-9a-f]{128}$/;
const TAG_PATTERN = /^[\w][\w.-]{0,127}$/;

/**
 * One registry event. Only the fields used here are checked; the others (request, actor, source,
 * references) pass through unchecked, because registries add fields across versions.
 */
const eventSchema = z
  .object({
    id: z.string().optional(),
    timestamp: z.string().optional(),
    action: z.string().min(1, 'expected an action such as push, pull, mount or delete'),
    target: z
      .object({
        mediaType: z.string().optional(),
        digest: z.string().regex(DIGEST_PATTERN, 'expected a digest, sha256:<64 lowercase hex>').optional(),
        repository: z.string().min(1, 'expected a repository name, e.g. team/web'),
        tag: z.string().regex(TAG_PATTERN, 'expected a tag of up to 128 letters, digits, "_", "." or "-"').optional(),
      })
      .loose(),
  })
  .loose()
  .superRefine((event, context) => {
    if (event.action === 'push' && event.target.digest === undefined) {
      context.addIssue({ code: 'custom', message: 'a push event needs target.digest', path: ['target', 'digest'] });
    }
  });

/** The body a registry POSTs: `{ "events": [ … ] }`. */
export const notificationEnvelopeSchema = z.object({ events: z.array(eventSchema) }).loose();

export type RegistryEvent = z.output<typeof eventSchema>;

/** A manifest push taken from a notification. */
export interface ManifestPush {
  eventId?: string;
  repository: string;
  digest: string;
  tag?: string;
}

/** Returns the manifest pushes among the events; blob pushes, pulls, mounts and deletes are left out. */
export function manifestPushes(events: RegistryEvent[]): ManifestPush[] {
  const pushes: ManifestPush[] = [];
  for (const event of events) {
    const { mediaType, digest, repository, tag } = event.target;
    const isManifest = mediaType === undefined ? tag !== undefined : MANIFEST_MEDIA_TYPES.includes(mediaType);
    if (event.action === 'push' && digest !== undefined && isManifest) {
      pushes.push({ eventId: event.id, repository, digest, tag });
    }
  }
  return pushes;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, key) => {
    if (typeof key === 'number') {
      return `${text}[${key}]`;
    }
    return text ? `${text}.${String(key)}` : String(key);
  }, '');
}

/** Parses a notification body; returns the events or the problems, each with its path in the body. */
export function parseNotification(
  body: string,
): { ok: true; events: RegistryEvent[] } | { ok: false; problems: string[] } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    return { ok: false, problems: [`body is not JSON: ${(error as Error).message}`] };
  }
  const result = notificationEnvelopeSchema.safeParse(json);
  if (!result.success) {
    return {
      ok: false,
      problems: result.error.issues.map((issue) => `${formatPath(issue.path) || '(body)'}: ${issue.message}`),
    };
  }
  return { ok: true, events: result.data.events };
}
