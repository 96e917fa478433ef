import { z } from 'zod';
import { RELEASE_EVENT_KINDS } from './types';

const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A pipeline's outgoing webhook. The secret itself never appears in the file, only the variable that holds it. */
export const eventsWebhookSchema = z
  .object({
    /** Where events are POSTed. */
    url: z.url({
      protocol: /^https?$/,
      message: 'expected an http or https URL, e.g. https://hooks.example.com/promote',
    }),
    /** Environment variable, read by the worker when it sends, that holds the HMAC-SHA256 key. */
    secretEnv: z
      .string()
      .regex(ENV_NAME_PATTERN, 'expected the name of an environment variable, e.g. PROMOTE_WEBHOOK_SECRET'),
    /** Kinds to send; all when absent. */
    kinds: z
      .array(z.enum(RELEASE_EVENT_KINDS))
      .min(1, `empty list; omit kinds to send all of ${RELEASE_EVENT_KINDS.join(', ')}`)
      .optional(),
    secret: z
      .unknown()
      .refine(() => false, {
        message:
          'a secret must not be written in the pipeline file; put it in an environment variable of the worker and name that variable in secretEnv',
      })
      .optional(),
  })
  .strict()
  .transform(({ secret: _secret, ...webhook }) => webhook);
