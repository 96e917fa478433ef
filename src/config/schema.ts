import { z } from 'zod';
import { eventsWebhookSchema } from '../events/webhook';
import { checkWhenPlacement, policyRuleSchema, triggersSchema } from '../policy/schema';
import { durationSchema, durationSchemaWithin, MAX_WAIT } from './duration';
import { repositoryKey, repositoryProblem } from './repository';
import { checkTagTemplate } from './tag-template';

const NAME_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;
const TAG_PATTERN = /^[\w][\w.-]{0,127}$/;

/** `user:password@` before the registry host. */
const USERINFO_PATTERN = /^[^/@]*@/;
/** Header names whose values are credentials. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'x-api-key']);
/**
 * Environment variable names that usually hold secrets.
 * NOTE: a name heuristic; a secret under an innocent name still gets through.
 */
const SECRET_ENV_NAME = /PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|CREDENTIAL|PRIVATE_?KEY/i;
// Every release carries its pipeline in its workflow input, so anything in the file is stored in Temporal's history.
const CREDENTIALS_ELSEWHERE =
  'every release stores the pipeline in its workflow history, so keep secrets with the worker: registry ' +
  "credentials in its docker config, others in its environment, passed to command hooks by 'promote worker --hook-env NAME'";

/** Placeholders a hook URL may contain; the worker replaces each with the URL-encoded value of the release. */
export const HOOK_URL_PLACEHOLDERS = [
  'PROMOTE_IMAGE',
  'PROMOTE_DIGEST',
  'PROMOTE_REPOSITORY',
  'PROMOTE_STAGE',
  'PROMOTE_PIPELINE',
  'PROMOTE_RELEASE',
] as const;

/** Returns the `${…}` placeholders in a hook URL that the worker would not replace, so they would be sent as written. */
function unknownPlaceholders(url: string): string[] {
  const known: readonly string[] = HOOK_URL_PLACEHOLDERS;
  return [...url.matchAll(/\$\{([^}]*)\}/g)].map((match) => match[1]).filter((name) => !known.includes(name));
}

const nameSchema = z
  .string()
  .regex(NAME_PATTERN, 'expected a lowercase name of letters, digits and "-", starting with a letter, e.g. staging');

const TAG_FORM = 'a tag of up to 128 letters, digits, "_", "." or "-", e.g. prod';

const tagSchema = z
  .string({ error: (issue) => (issue.input === undefined ? `missing; expected ${TAG_FORM}` : undefined) })
  .regex(TAG_PATTERN, `expected ${TAG_FORM}`);

/**
 * Maximum hook timeout. The worker times a hook with Node timers (setTimeout, AbortSignal.timeout), which fire
 * after 1 ms when the delay is above 2^31-1 ms (Node's timers documentation), so every run would time out at once.
 */
const MAX_HOOK_TIMEOUT = {
  ms: 24 * 86_400_000,
  text: '24d',
  reason: 'the worker times hooks with Node timers, which cannot wait longer than 2^31-1 ms (about 24.8 days)',
};

/** A stage's repository, written as `registry[:port]/path` without tag or digest (`registry.example.com/team/app`). */
const repositorySchema = z
  .string()
  .refine((text) => !USERINFO_PATTERN.test(text), {
    message: `credentials do not belong in a repository, because ${CREDENTIALS_ELSEWHERE}`,
    abort: true,
  })
  .superRefine((text, context) => {
    const problem = repositoryProblem(text);
    if (problem) {
      context.addIssue({ code: 'custom', message: problem });
    }
  });

/** A test hook: a command or an HTTP request, run after a stage's tags are moved. */
export const hookSchema = z
  .object({
    /** Name shown in status and ledger. */
    name: nameSchema,
    /**
     * Command and arguments, run without a shell. Its environment has PROMOTE_IMAGE (repository@digest),
     * PROMOTE_DIGEST, PROMOTE_REPOSITORY, PROMOTE_STAGE, PROMOTE_PIPELINE and PROMOTE_RELEASE.
     */
    command: z.array(z.string().min(1)).min(1).optional(),
    /** HTTP request; `${PROMOTE_IMAGE}`-style placeholders in url are replaced by the same values. */
    http: z
      .object({
        url: z
          .url()
          .refine((url) => !/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(url), {
            message: `credentials do not belong in a hook URL, because ${CREDENTIALS_ELSEWHERE}`,
          })
          .superRefine((url, context) => {
            const unknown = unknownPlaceholders(url);
            if (unknown.length > 0) {
              context.addIssue({
                code: 'custom',
                message:
                  `unknown placeholder ${unknown.map((name) => `\${${name}}`).join(', ')}; ` +
                  `expected one of ${HOOK_URL_PLACEHOLDERS.map((name) => `\${${name}}`).join(', ')}`,
              });
            }
          }),
        method: z.enum(['GET', 'POST', 'PUT', 'HEAD']).default('GET'),
        headers: z
          .record(z.string(), z.string())
          .superRefine((headers, context) => {
            for (const name of Object.keys(headers)) {
              if (CREDENTIAL_HEADERS.has(name.toLowerCase())) {
                context.addIssue({
                  code: 'custom',
                  message: `header "${name}" carries a credential, which does not belong here, because ${CREDENTIALS_ELSEWHERE}`,
                  path: [name],
                });
              }
            }
          })
          .default({}),
        /** Statuses that count as a pass; default any 2xx. */
        expectStatus: z.array(z.number().int().min(100).max(599)).optional(),
      })
      .strict()
      .optional(),
    /** Extra environment variables for a command hook. */
    env: z
      .record(z.string(), z.string())
      .superRefine((env, context) => {
        for (const name of Object.keys(env)) {
          if (SECRET_ENV_NAME.test(name)) {
            context.addIssue({
              code: 'custom',
              message: `"${name}" looks like a secret, which does not belong here, because ${CREDENTIALS_ELSEWHERE}`,
              path: [name],
            });
          }
        }
      })
      .default({}),
    /** How long one run may take, above 0 and at most 24d; default 5m. */
    timeout: durationSchemaWithin({ positive: { example: '5m' }, max: MAX_HOOK_TIMEOUT }).default(5 * 60_000),
  })
  .strict()
  .refine((hook) => (hook.command === undefined) !== (hook.http === undefined), {
    message: 'a hook needs exactly one of "command" (a list: program and arguments) or "http" (an object with url)',
  });

/**
 * A person allowed to approve. `promote approve --as` trims the name it is given, so a name with surrounding
 * whitespace could never match.
 */
const approverSchema = z.string().superRefine((name, context) => {
  if (name.trim() === '') {
    context.addIssue({
      code: 'custom',
      message: `empty approver name ${JSON.stringify(name)}; expected a name, e.g. alice`,
    });
  } else if (name.trim() !== name) {
    context.addIssue({
      code: 'custom',
      message:
        `approver ${JSON.stringify(name)} has leading or trailing whitespace, which 'promote approve --as' trims, ` +
        `so this approver could never approve; expected ${JSON.stringify(name.trim())}`,
    });
  }
});

/** An approval gate: who may approve a stage, and how many distinct approvals it needs. */
export const approvalSchema = z
  .object({
    /** People allowed to approve or reject, each listed once. */
    approvers: z
      .array(approverSchema)
      .min(1)
      .superRefine((approvers, context) => {
        approvers.forEach((name, index) => {
          if (approvers.indexOf(name) < index) {
            context.addIssue({
              code: 'custom',
              message: `duplicate approver ${JSON.stringify(name)}; approvals count distinct people, so list each approver once`,
              path: [index],
            });
          }
        });
      }),
    /** Distinct approvals needed; default 1. */
    required: z.number().int().min(1).default(1),
    /** Whether the person who started the release may approve it; default false. */
    allowSelfApproval: z.boolean().default(false),
    /** How long to wait for approval before the release ends as expired, above 0; default 7d. */
    timeout: durationSchemaWithin({ positive: { example: '3d' }, max: MAX_WAIT }).default(7 * 86_400_000),
  })
  .strict()
  .refine((approval) => approval.required <= approval.approvers.length, {
    message: 'required approvals cannot exceed the number of approvers',
    path: ['required'],
  });

/** One environment of the pipeline. */
export const stageSchema = z
  .object({
    name: nameSchema,
    /** Repository this stage's images live in; any registry. */
    repository: repositorySchema,
    /** Tag that deployments of this environment follow, e.g. prod. */
    environmentTag: tagSchema,
    /** Extra tag templates, e.g. "%n" (source tag), "sha-%s", "%Y%m%d-%H%M%S". */
    tags: z
      .array(
        z.string().superRefine((template, context) => {
          const problem = checkTagTemplate(template);
          if (problem) {
            context.addIssue({ code: 'custom', message: problem });
          }
        }),
      )
      .default([]),
    /** Test hooks, run in order after the tags move; a failing hook rolls the stage back. */
    hooks: z.array(hookSchema).default([]),
    /** Approval gate, checked before the stage starts. */
    approval: approvalSchema.optional(),
    /** Time after a successful promotion before the next stage may start; default 0. */
    soak: durationSchema.default(0),
    /** Whether the copy into this stage also brings the image's referrers (signatures, SBOMs, attestations). */
    referrers: z.boolean().default(false),
    /** Rule a release must meet to enter this stage; a release stopped by it ends as completed up to here. */
    when: policyRuleSchema.optional(),
  })
  .strict();

/**
 * Rejects a stage whose repository and environment tag are those of an earlier stage: both stages would move the
 * same tag, so promoting into the later one would overwrite what the earlier one holds. The source stage counts too.
 */
function checkEnvironmentTags(stages: readonly Stage[], context: z.RefinementCtx): void {
  const earlier = new Map<string, { name: string; index: number }>();
  stages.forEach((stage, index) => {
    const repository = repositoryKey(stage.repository);
    const key = `${repository}:${stage.environmentTag}`;
    const first = earlier.get(key);
    if (first) {
      context.addIssue({
        code: 'custom',
        message:
          `stage "${stage.name}" would move the same tag as stage "${first.name}" (stages[${first.index}]), ` +
          `${stage.repository}:${stage.environmentTag}; expected a repository or environmentTag different from that stage's`,
        path: ['stages', index, 'environmentTag'],
      });
    } else {
      earlier.set(key, { name: stage.name, index });
    }
  });
}

/** A pipeline file. */
export const pipelineSchema = z
  .object({
    /** Pipeline name; part of every release id. */
    name: nameSchema,
    /** Stages in order; the first is the source, where CI pushes. */
    stages: z.array(stageSchema).min(2, 'expected at least two stages: the source and one target'),
    /** Registries reached over plain HTTP (loopback registries always are). */
    insecureRegistries: z.array(z.string().min(1)).default([]),
    /** Pushes to the first stage's repository that start a release by themselves; none when absent. */
    triggers: triggersSchema.optional(),
    /** Webhook that receives release events; none when absent. */
    events: eventsWebhookSchema.optional(),
  })
  .strict()
  .superRefine((pipeline, context) => {
    const seen = new Set<string>();
    pipeline.stages.forEach((stage, index) => {
      if (seen.has(stage.name)) {
        context.addIssue({
          code: 'custom',
          message: `duplicate stage name "${stage.name}"`,
          path: ['stages', index, 'name'],
        });
      }
      seen.add(stage.name);
    });
    checkEnvironmentTags(pipeline.stages, context);
    if (pipeline.stages[0]?.approval) {
      context.addIssue({
        code: 'custom',
        message: 'the first stage is the source and cannot have an approval gate',
        path: ['stages', 0, 'approval'],
      });
    }
  })
  .superRefine(checkWhenPlacement);

export type Hook = z.output<typeof hookSchema>;
export type Approval = z.output<typeof approvalSchema>;
export type Stage = z.output<typeof stageSchema>;
export type Pipeline = z.output<typeof pipelineSchema>;
