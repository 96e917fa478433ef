// Reference and digest parsing errors live beside their parsers; they are re-exported so callers find every error here.
export { InvalidReferenceError } from './reference';
export { InvalidDigestError } from './digest';

/** One entry of a registry's JSON error body, `{"errors":[{"code","message","detail"}]}` (OCI distribution spec). */
export interface RegistryErrorDetail {
  code: string;
  message?: string;
  detail?: unknown;
}

/** Fields of a new RegistryError; `url` must already be redacted. */
export interface RegistryErrorInit {
  method: string;
  url: string;
  registry: string;
  repository: string;
  /** Object of the request, such as `manifest 127.0.0.1:5000/team/app@sha256:ab12…`. */
  subject: string;
  /** Absent when no response arrived (connection failure). */
  status?: number;
  errors?: RegistryErrorDetail[];
  retryable: boolean;
  digest?: string;
  /** Advice for the reader, such as `check the credentials for 127.0.0.1:5000`. */
  hint?: string;
  /** Cause of the failure when no status arrived, such as `ECONNRESET: other side closed`. */
  failure?: string;
  attempts?: number;
  cause?: unknown;
}

/**
 * Thrown when a registry request gets a status its caller does not accept, or no response at all. `retryable` is
 * true when sending the same request again can help (429, 5xx, a broken connection). The transport has already
 * retried those when the body could be replayed.
 */
export class RegistryError extends Error {
  readonly method: string;
  /** Request URL without userinfo and with secret-looking query values replaced. */
  readonly url: string;
  readonly registry: string;
  readonly repository: string;
  readonly status?: number;
  /** Registry error codes from the body, such as `MANIFEST_UNKNOWN`; empty when the body had none. */
  readonly codes: string[];
  /** Registry error messages from the body, in the order of `codes`. */
  readonly messages: string[];
  readonly errors: RegistryErrorDetail[];
  readonly retryable: boolean;
  readonly digest?: string;
  /** Requests sent before giving up, retries included. */
  readonly attempts: number;

  constructor(init: RegistryErrorInit) {
    super(formatMessage(init), init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.method = init.method;
    this.url = init.url;
    this.registry = init.registry;
    this.repository = init.repository;
    this.status = init.status;
    this.errors = init.errors ?? [];
    this.codes = this.errors.map((error) => error.code);
    this.messages = this.errors.map((error) => error.message ?? '');
    this.retryable = init.retryable;
    this.digest = init.digest;
    this.attempts = init.attempts ?? 1;
  }
}

/**
 * Thrown when a registry or its token server rejects the credentials (401), refuses the requested scope (403), or
 * issues no usable token.
 */
export class AuthenticationError extends RegistryError {}

function formatMessage(init: RegistryErrorInit): string {
  const parts = [`${init.method} ${init.subject}: ${formatOutcome(init)}`];
  if (init.hint) {
    parts.push(init.hint);
  }
  if (init.attempts !== undefined && init.attempts > 1) {
    parts.push(`failed after ${init.attempts} attempts`);
  }
  parts.push(init.retryable ? 'retrying later may help' : 'retrying will not help');
  return parts.join('; ');
}

function formatOutcome(init: RegistryErrorInit): string {
  if (init.status === undefined) {
    return `no response (${init.failure ?? 'connection failed'})`;
  }
  const errors = init.errors ?? [];
  const codes = errors.map((error) => error.code).join(', ');
  const messages = errors.map((error) => error.message).filter((message): message is string => Boolean(message));
  const outcome = codes ? `${init.status} ${codes}` : String(init.status);
  return messages.length > 0 ? `${outcome} (${messages.join('; ')})` : outcome;
}

/** Thrown when content read from or written to a registry does not hash to the digest that names it. */
export class DigestMismatchError extends Error {
  constructor(
    /** Object that was checked, such as `blob 127.0.0.1:5000/team/app`. */
    readonly subject: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`${subject}: content digest is ${actual}, expected ${expected}; the content was rejected`);
    this.name = 'DigestMismatchError';
  }
}

/** Thrown for a manifest media type the engine cannot copy, such as Docker schema 1. */
export class UnsupportedManifestError extends Error {
  constructor(
    readonly reference: string,
    readonly mediaType: string,
    readonly reason: string,
  ) {
    super(`manifest ${reference} has unsupported media type ${JSON.stringify(mediaType)}: ${reason}`);
    this.name = 'UnsupportedManifestError';
  }
}
