import { type Digest, InvalidDigestError, parseDigest } from './digest';

/** Registry host that `docker.io` and names without a registry part resolve to, as in docker and crane. */
export const DOCKER_HUB_REGISTRY = 'index.docker.io';

const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
const EXPECTED_FORM =
  'expected [registry[:port]/]repository[:tag][@sha256:<64 hex>], e.g. registry.example.com:5000/team/app:1.4.2';
const MAX_NAME_LENGTH = 255;

const HOSTNAME_LABEL = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const IPV6_HOST = /^\[[0-9a-fA-F:.]+\]$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;

/** Thrown when an image reference does not have the form `[registry[:port]/]repository[:tag][@digest]`. */
export class InvalidReferenceError extends Error {
  constructor(
    readonly input: string,
    readonly reason: string,
  ) {
    super(`invalid image reference ${JSON.stringify(input)}: ${reason}; ${EXPECTED_FORM}`);
    this.name = 'InvalidReferenceError';
  }
}

/**
 * An image reference, normalised like docker and crane do: Docker Hub names get the registry
 * `index.docker.io` and single-component repositories get `library/`. Immutable.
 */
export class Reference {
  private constructor(
    readonly registry: string,
    readonly repository: string,
    readonly tag?: string,
    readonly digest?: Digest,
  ) {}

  /** Parses `[registry[:port]/]repository[:tag][@algorithm:hex]`; throws InvalidReferenceError. */
  static parse(text: string): Reference {
    const fail = (reason: string): never => {
      throw new InvalidReferenceError(text, reason);
    };
    if (text.length === 0) {
      fail('reference is empty');
    }
    if (/\s/.test(text)) {
      fail('it contains whitespace');
    }
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
      fail('a URL scheme such as https:// is not part of an image reference');
    }

    const at = text.indexOf('@');
    const namePart = at < 0 ? text : text.slice(0, at);
    const digest = at < 0 ? undefined : parseReferenceDigest(text, text.slice(at + 1));

    const lastSlash = namePart.lastIndexOf('/');
    const tagColon = namePart.indexOf(':', lastSlash + 1);
    const name = tagColon < 0 ? namePart : namePart.slice(0, tagColon);
    const tag = tagColon < 0 ? undefined : namePart.slice(tagColon + 1);
    if (tag !== undefined) {
      validateTag(text, tag);
    }
    if (name.length === 0) {
      fail('repository is missing');
    }
    if (name.length > MAX_NAME_LENGTH) {
      fail(`name is ${name.length} characters long; the maximum is ${MAX_NAME_LENGTH}`);
    }

    const { registry, repository } = splitRegistry(text, name);
    return new Reference(registry, repository, tag, digest);
  }

  /** Builds a reference from parts that are validated like parse does. */
  static of(registry: string, repository: string, identifier?: { tag?: string; digest?: Digest }): Reference {
    let text = `${registry}/${repository}`;
    if (identifier?.tag !== undefined) {
      text += `:${identifier.tag}`;
    }
    if (identifier?.digest !== undefined) {
      text += `@${identifier.digest}`;
    }
    return Reference.parse(text);
  }

  /** Returns this reference pinned to `digest`; the tag stays for display, but requests use the digest. */
  withDigest(digest: Digest): Reference {
    return new Reference(this.registry, this.repository, this.tag, parseDigest(digest));
  }

  /** Returns the reference to `tag` in the same repository, without any digest. */
  withTag(tag: string): Reference {
    validateTag(`${this.name}:${tag}`, tag);
    return new Reference(this.registry, this.repository, tag, undefined);
  }

  /** Returns the repository alone, without tag or digest. */
  withoutIdentifier(): Reference {
    return new Reference(this.registry, this.repository);
  }

  /** `registry/repository`. */
  get name(): string {
    return `${this.registry}/${this.repository}`;
  }

  /** The part of a manifest request path after `manifests/`: the digest if present, else the tag, else `latest`. */
  get identifier(): string {
    return this.digest ?? this.tag ?? 'latest';
  }

  /** Returns whether both references name the same repository on the same registry. */
  sameRepository(other: Reference): boolean {
    return this.registry === other.registry && this.repository === other.repository;
  }

  /** `registry/repository[:tag][@digest]`, with only the parts that are set. */
  toString(): string {
    let text = this.name;
    if (this.tag !== undefined) {
      text += `:${this.tag}`;
    }
    if (this.digest !== undefined) {
      text += `@${this.digest}`;
    }
    return text;
  }

  toJSON(): string {
    return this.toString();
  }
}

function parseReferenceDigest(input: string, text: string): Digest {
  if (text.length === 0) {
    throw new InvalidReferenceError(input, "digest after '@' is empty");
  }
  try {
    return parseDigest(text);
  } catch (error) {
    if (error instanceof InvalidDigestError) {
      throw new InvalidReferenceError(input, `digest ${JSON.stringify(text)} is invalid: ${error.reason}`);
    }
    throw error;
  }
}

function validateTag(input: string, tag: string): void {
  if (tag.length === 0) {
    throw new InvalidReferenceError(input, "tag after ':' is empty");
  }
  if (tag.length > 128) {
    throw new InvalidReferenceError(input, `tag is ${tag.length} characters long; the maximum is 128`);
  }
  if (!TAG.test(tag)) {
    throw new InvalidReferenceError(
      input,
      `tag ${JSON.stringify(tag)} may contain only letters, digits, '_', '.' and '-', and must not start with '.' or '-'`,
    );
  }
}

/** Returns whether the first path component names a registry rather than a Docker Hub namespace. */
function looksLikeRegistry(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost';
}

/**
 * Returns whether a name without '/' is a registry host that lost its repository, such as `localhost` or
 * `127.0.0.1` in `127.0.0.1:5000`, which docker would read as the Docker Hub image `library/127.0.0.1`, tag `5000`.
 */
function isBareRegistryHost(name: string): boolean {
  return name === 'localhost' || /^[0-9]{1,3}(?:\.[0-9]{1,3}){3}$/.test(name);
}

/**
 * Validates a registry as options such as `--insecure` take it, `host[:port]` (a hostname, an IPv4 address or
 * `[IPv6]`), and returns it lowercased. Throws an Error whose message names the value and the expected form.
 */
export function parseRegistryHost(value: string): string {
  const expected = 'expected a registry as host[:port], without scheme or path, e.g. registry.example.com:5000';
  if (value.includes('/')) {
    throw new Error(`${expected}; got ${JSON.stringify(value)}`);
  }
  try {
    return validateRegistry(value, value);
  } catch (error) {
    throw new Error(`${expected}; got ${JSON.stringify(value)}: ${(error as InvalidReferenceError).reason}`);
  }
}

function splitRegistry(input: string, name: string): { registry: string; repository: string } {
  const slash = name.indexOf('/');
  if (slash < 0 && isBareRegistryHost(name)) {
    throw new InvalidReferenceError(
      input,
      `it names the registry ${name} but no repository; expected ${name}[:PORT]/REPOSITORY[:TAG]`,
    );
  }
  const first = slash < 0 ? '' : name.slice(0, slash);
  let registry = DOCKER_HUB_REGISTRY;
  let repository = name;
  if (slash >= 0 && looksLikeRegistry(first)) {
    registry = validateRegistry(input, first);
    repository = name.slice(slash + 1);
  }
  if (repository.length === 0) {
    throw new InvalidReferenceError(input, 'repository after the registry is missing');
  }
  validateRepository(input, repository);
  if (DOCKER_HUB_ALIASES.has(registry)) {
    registry = DOCKER_HUB_REGISTRY;
    if (!repository.includes('/')) {
      repository = `library/${repository}`;
    }
  }
  return { registry, repository };
}

function validateRegistry(input: string, registry: string): string {
  let host = registry;
  let port: string | undefined;
  if (registry.startsWith('[')) {
    const close = registry.indexOf(']');
    host = close < 0 ? registry : registry.slice(0, close + 1);
    const rest = close < 0 ? '' : registry.slice(close + 1);
    if (rest.length > 0) {
      if (!rest.startsWith(':')) {
        throw new InvalidReferenceError(input, `registry ${JSON.stringify(registry)} has text after the IPv6 address`);
      }
      port = rest.slice(1);
    }
    if (!IPV6_HOST.test(host)) {
      throw new InvalidReferenceError(input, `registry IPv6 address ${JSON.stringify(host)} is invalid`);
    }
  } else {
    const colon = registry.indexOf(':');
    if (colon >= 0) {
      host = registry.slice(0, colon);
      port = registry.slice(colon + 1);
    }
    if (host.length === 0 || !host.split('.').every((label) => HOSTNAME_LABEL.test(label))) {
      throw new InvalidReferenceError(
        input,
        `registry host ${JSON.stringify(host)} is invalid (use a hostname, an IPv4 address or [IPv6])`,
      );
    }
  }
  if (port !== undefined && (!/^[0-9]{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)) {
    throw new InvalidReferenceError(input, `registry port ${JSON.stringify(port)} must be a number from 1 to 65535`);
  }
  // Hostnames are case-insensitive; lowercase keeps one spelling per registry for credentials and pools.
  return port === undefined ? host.toLowerCase() : `${host.toLowerCase()}:${port}`;
}

function validateRepository(input: string, repository: string): void {
  if (repository !== repository.toLowerCase()) {
    throw new InvalidReferenceError(input, 'repository must be lowercase');
  }
  for (const component of repository.split('/')) {
    if (component.length === 0) {
      throw new InvalidReferenceError(input, `repository ${JSON.stringify(repository)} has an empty path component`);
    }
    if (!PATH_COMPONENT.test(component)) {
      throw new InvalidReferenceError(
        input,
        `repository component ${JSON.stringify(component)} is invalid ` +
          "(use lowercase letters and digits, separated by '.', '_', '__' or dashes)",
      );
    }
  }
}
