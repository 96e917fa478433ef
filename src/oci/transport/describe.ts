/** Query parameters whose values carry no secret and help a reader of an error; every other value is redacted. */
const VISIBLE_QUERY_PARAMETERS = new Set(['digest', 'mount', 'from', 'n', 'last', 'service', 'scope', 'artifactType']);

/** Removes userinfo and replaces query values that may be secrets (signed storage URLs, upload state) with `REDACTED`. */
export function redactUrl(url: URL | string): string {
  const copy = new URL(url);
  copy.username = '';
  copy.password = '';
  for (const name of [...copy.searchParams.keys()]) {
    if (!VISIBLE_QUERY_PARAMETERS.has(name)) {
      copy.searchParams.set(name, 'REDACTED');
    }
  }
  return copy.toString();
}

const DIGEST_PATTERN = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** Shortens a digest for messages, `sha256:ab12cd34ef56…`; the full digest stays in the error's `digest` field. */
export function shortDigest(digest: string): string {
  const colon = digest.indexOf(':');
  return digest.length > colon + 13 ? `${digest.slice(0, colon + 13)}…` : digest;
}

/** Description of a request's object for error messages, and the digest it names, if any. */
export interface RequestSubject {
  subject: string;
  digest?: string;
}

/**
 * Names the object of a `/v2/` request in words, such as `manifest 127.0.0.1:5000/team/app:1.2` or
 * `blob 127.0.0.1:5000/team/app@sha256:ab12cd34ef56…`.
 */
export function describeRequest(registry: string, repository: string, url: URL): RequestSubject {
  const path = decodeURIComponent(url.pathname);
  const name = `${registry}/${repository}`;
  const prefix = `/v2/${repository}/`;
  if (path === '/v2/' || path === '/v2') {
    return { subject: `/v2/ on ${registry}` };
  }
  if (!repository || !path.startsWith(prefix)) {
    return { subject: `${redactUrl(url)} for ${name}` };
  }
  const rest = path.slice(prefix.length);
  if (rest.startsWith('blobs/uploads')) {
    return { subject: `blob upload ${name}` };
  }
  const [kind, reference] = [rest.slice(0, rest.indexOf('/')), rest.slice(rest.indexOf('/') + 1)];
  const isDigest = DIGEST_PATTERN.test(reference);
  const at = isDigest ? `@${shortDigest(reference)}` : `:${reference}`;
  const digest = isDigest ? reference : undefined;
  switch (kind) {
    case 'manifests':
      return { subject: `manifest ${name}${at}`, digest };
    case 'blobs':
      return { subject: `blob ${name}${at}`, digest };
    case 'referrers':
      return { subject: `referrers of ${name}${at}`, digest };
    case 'tags':
      return { subject: `tags of ${name}` };
    default:
      return { subject: `${path} on ${registry}` };
  }
}
