import { RegistryError } from './errors';
import { headerValue } from './response';
import type { Reference } from './reference';
import type { Transport } from './transport';

/** Tags requested per page; registries may return fewer and Distribution 2.8 ignores the parameter. */
export const TAGS_PAGE_SIZE = 1000;

/** Returns the `rel="next"` target of a Link header, e.g. `</v2/app/tags/list?n=1000&last=v9>; rel="next"`. */
export function nextLink(link: string | undefined): string | undefined {
  if (link === undefined) {
    return undefined;
  }
  for (const part of link.split(',')) {
    const match = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (match && /\brel\s*=\s*"?next"?/i.test(match[2])) {
      return match[1];
    }
  }
  return undefined;
}

/**
 * Lists a repository's tags, following `Link` pagination. Returns an empty list for a repository the
 * registry does not know (404 NAME_UNKNOWN), because a repository without tags is the same to a caller.
 */
export async function listTags(
  transport: Transport,
  repo: Reference,
  signal?: AbortSignal,
  pageSize = TAGS_PAGE_SIZE,
): Promise<string[]> {
  const tags: string[] = [];
  let path: string | undefined = `/v2/${repo.repository}/tags/list`;
  let query: Record<string, string> | undefined = { n: String(pageSize) };
  const seen = new Set<string>();

  while (path !== undefined) {
    let response;
    try {
      response = await transport.request({
        method: 'GET',
        registry: repo.registry,
        repository: repo.repository,
        path,
        query,
        actions: ['pull'],
        expect: [200],
        signal,
      });
    } catch (error) {
      if (error instanceof RegistryError && error.status === 404 && error.codes.includes('NAME_UNKNOWN')) {
        return tags;
      }
      throw error;
    }

    const page = (await response.body.json()) as { tags?: unknown };
    if (page.tags !== null && page.tags !== undefined && !Array.isArray(page.tags)) {
      throw new Error(`tags of ${repo.name}: the registry returned "tags" that is not a list`);
    }
    tags.push(...((page.tags ?? []) as unknown[]).filter((tag): tag is string => typeof tag === 'string'));

    path = nextLink(headerValue(response.headers, 'link'));
    if (path !== undefined && seen.has(path)) {
      throw new Error(`tags of ${repo.name}: the registry's Link header points back to ${path}, a page already read`);
    }
    seen.add(path ?? '');
    // The next link carries its own `n` and `last`.
    query = undefined;
  }
  return tags;
}
