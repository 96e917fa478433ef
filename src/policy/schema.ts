import { z } from 'zod';
import { byteSizeSchema } from './byte-size';
import { tagConditionSchema, textConditionSchema } from './text-condition';

const PLATFORM_PATTERN = /^[a-z0-9_.-]+\/[a-z0-9_.-]+(?:\/[a-z0-9_.-]+)?$/;
const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$|^sha512:[0-9a-f]{128}$/;
const TIMESTAMP_PATTERN = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2}))?$/;

/** A point in time, written as an RFC 3339 timestamp with a zone or as a date (midnight UTC); loaded as ISO 8601 UTC. */
const timestampSchema = z.string().transform((text, context) => {
  const time = TIMESTAMP_PATTERN.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(time)) {
    context.addIssue({
      code: 'custom',
      message: `invalid timestamp "${text}"; expected a date or a date and time with a zone, e.g. 2025-06-01 or 2025-06-01T12:00:00Z`,
    });
    return z.NEVER;
  }
  return new Date(time).toISOString();
});

/** Conditions on the total size of an image, in bytes. */
const sizeConditionSchema = z
  .object({
    /** Smallest total size that passes. */
    min: byteSizeSchema.optional(),
    /** Largest total size that passes. */
    max: byteSizeSchema.optional(),
  })
  .strict()
  .refine((size) => size.min !== undefined || size.max !== undefined, {
    message: 'a size condition needs min, max or both, e.g. { max: 500MB }',
  })
  .refine((size) => size.min === undefined || size.max === undefined || size.min <= size.max, {
    message: 'size.min is larger than size.max, so no image can pass',
  });

const keyValueConditionsSchema = z
  .record(z.string().min(1), textConditionSchema)
  .refine((conditions) => Object.keys(conditions).length > 0, {
    message: 'empty map; name at least one key and its expected value, e.g. { org.opencontainers.image.vendor: Acme }',
  });

/** Conditions read from the image's manifest and config. */
export const imageConditionsSchema = z
  .object({
    /** Platforms that must all be present, as os/architecture[/variant], e.g. linux/arm64/v8. */
    platforms: z
      .array(
        z
          .string()
          .regex(
            PLATFORM_PATTERN,
            'expected a platform as os/architecture[/variant], e.g. linux/amd64 or linux/arm/v7',
          ),
      )
      .min(1, 'empty list; name at least one platform, e.g. [linux/amd64]')
      .optional(),
    /** Manifest annotations and the condition each value must meet; a plain string means equals. */
    annotations: keyValueConditionsSchema.optional(),
    /** Config labels (`config.Labels`) and the condition each value must meet; a plain string means equals. */
    labels: keyValueConditionsSchema.optional(),
    /** The config's `created` time must be later than this. */
    createdAfter: timestampSchema.optional(),
    /** The config's `created` time must be earlier than this. */
    createdBefore: timestampSchema.optional(),
    /** Bounds on the total size: manifests, configs and layers. */
    size: sizeConditionSchema.optional(),
  })
  .strict()
  .refine((image) => Object.values(image).some((value) => value !== undefined), {
    message:
      'empty image conditions; write at least one of platforms, annotations, labels, createdAfter, createdBefore, size',
  })
  .refine(
    (image) =>
      image.createdAfter === undefined || image.createdBefore === undefined || image.createdAfter < image.createdBefore,
    { message: 'createdAfter is not earlier than createdBefore, so no image can pass' },
  );

/**
 * A rule: every part it names must hold. Used as a pipeline trigger, where the first rule that holds
 * starts a release, and as a stage's `when`, which a release must meet to enter the stage.
 */
export const policyRuleSchema = z
  .object({
    /** Name shown in messages next to the rule's path. */
    name: z.string().min(1).optional(),
    /** Condition on the tag the image was pushed under; a push by digest alone has no tag and fails it. */
    tag: tagConditionSchema.optional(),
    /** The only digest that passes. */
    digest: z.string().regex(DIGEST_PATTERN, 'expected a digest, sha256:<64 lowercase hex>').optional(),
    /** Conditions read from the image itself. */
    image: imageConditionsSchema.optional(),
  })
  .strict()
  .refine((rule) => rule.tag !== undefined || rule.digest !== undefined || rule.image !== undefined, {
    message: 'empty rule, which would match every image; write at least one of tag, digest or image',
  });

/** A pipeline's triggers: pushes to the first stage's repository that start a release by themselves. */
export const triggersSchema = z
  .array(policyRuleSchema)
  .min(1, 'empty list; write at least one trigger rule or omit triggers');

export type ImageConditions = z.output<typeof imageConditionsSchema>;
export type PolicyRule = z.output<typeof policyRuleSchema>;

/** Adds an issue when the first stage has a `when`: it is the source, which a release never enters. */
export function checkWhenPlacement(
  pipeline: { stages: { when?: unknown }[] },
  context: { addIssue(issue: { code: 'custom'; message: string; path: (string | number)[] }): void },
): void {
  if (pipeline.stages[0]?.when !== undefined) {
    context.addIssue({
      code: 'custom',
      message:
        'the first stage is the source, which a release never enters; use triggers to choose which pushes start one',
      path: ['stages', 0, 'when'],
    });
  }
}
