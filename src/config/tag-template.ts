/**
 * Extra tags are written as templates, in the spirit of Docker Trusted Registry's promotion policies:
 *
 * | token | value |
 * |---|---|
 * | `%n` | the source tag (`latest` when the release started from a digest) |
 * | `%s` | the first 12 hex digits of the digest |
 * | `%p` | the pipeline name |
 * | `%Y` `%m` `%d` | year, month, day of the release start (UTC) |
 * | `%H` `%M` `%S` | hour, minute, second of the release start (UTC) |
 * | `%%` | a literal `%` |
 */
export const TAG_TEMPLATE_TOKENS = ['n', 's', 'p', 'Y', 'm', 'd', 'H', 'M', 'S', '%'] as const;

const TAG_PATTERN = /^[\w][\w.-]{0,127}$/;

/** Values a template is rendered with. */
export interface TagTemplateValues {
  sourceTag?: string;
  digest: string;
  pipeline: string;
  /** Release start, milliseconds since the epoch. */
  startedAt: number;
}

/** Returns an error message when the template uses an unknown token, or undefined when it is valid. */
export function checkTagTemplate(template: string): string | undefined {
  for (const match of template.matchAll(/%(.?)/g)) {
    if (!(TAG_TEMPLATE_TOKENS as readonly string[]).includes(match[1])) {
      return `unknown token "%${match[1]}" in tag template "${template}"; known tokens: ${TAG_TEMPLATE_TOKENS.map((t) => '%' + t).join(' ')}`;
    }
  }
  return undefined;
}

function pad(value: number): string {
  return String(value).padStart(2, '0');
}

/** Renders a template into a tag; throws when the result is not a valid tag. Pure, so workflows may call it. */
export function renderTagTemplate(template: string, values: TagTemplateValues): string {
  const time = new Date(values.startedAt);
  const replacements: Record<string, string> = {
    n: values.sourceTag ?? 'latest',
    s: values.digest.replace(/^[a-z0-9]+:/, '').slice(0, 12),
    p: values.pipeline,
    Y: String(time.getUTCFullYear()),
    m: pad(time.getUTCMonth() + 1),
    d: pad(time.getUTCDate()),
    H: pad(time.getUTCHours()),
    M: pad(time.getUTCMinutes()),
    S: pad(time.getUTCSeconds()),
    '%': '%',
  };
  const tag = template.replace(/%(.)/g, (_, token: string) => replacements[token] ?? `%${token}`);
  if (!TAG_PATTERN.test(tag)) {
    throw new Error(
      `tag template "${template}" rendered "${tag}", which is not a valid tag; ` +
        'expected up to 128 letters, digits, "_", "." or "-", not starting with "." or "-"',
    );
  }
  return tag;
}
