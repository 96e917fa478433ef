import { InvalidReferenceError, Reference } from '../oci/reference';

const EXAMPLE = 'e.g. registry.example.com:5000/team/app';

/**
 * Returns what is wrong with a stage's `repository`, or undefined when it is a valid repository name with its
 * registry host. The check is `Reference.parse`, the parse every registry request uses, plus two rules of its
 * own: no tag or digest, because stage tags come from environmentTag and tags, and an explicit registry host.
 * A Docker Hub short name (`team/app`) is rejected: the pipeline names where each environment lives, so
 * Docker Hub is written out as `docker.io/team/app`.
 */
export function repositoryProblem(text: string): string | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) {
    return `"${text}" has no repository path; expected registry[:port]/path, ${EXAMPLE}`;
  }
  if (text.includes('@')) {
    return `expected a repository without digest, ${EXAMPLE}; the release chooses the digest`;
  }

  let reference: Reference;
  try {
    reference = Reference.parse(text);
  } catch (error) {
    if (error instanceof InvalidReferenceError) {
      return `invalid repository "${text}": ${error.reason}; expected registry[:port]/path in lowercase, ${EXAMPLE}`;
    }
    throw error;
  }

  if (reference.tag !== undefined) {
    return `expected a repository without tag, ${EXAMPLE}; stage tags come from environmentTag and tags`;
  }
  const first = text.slice(0, slash);
  if (!first.includes('.') && !first.includes(':') && first !== 'localhost') {
    return (
      `"${text}" names no registry host, so it would mean Docker Hub; expected registry[:port]/path, ${EXAMPLE}, ` +
      `or docker.io/${text} for Docker Hub`
    );
  }
  return undefined;
}

/**
 * Returns the registry host and repository path a stage's repository names, normalised so that two spellings of
 * one repository compare equal: host names in lowercase, Docker Hub aliases as `index.docker.io`. An invalid
 * repository is returned as written, because its own problem is reported elsewhere.
 */
export function repositoryKey(text: string): string {
  try {
    const reference = Reference.parse(text);
    return `${reference.registry.toLowerCase()}/${reference.repository}`;
  } catch (error) {
    if (error instanceof InvalidReferenceError) {
      return text;
    }
    throw error;
  }
}
