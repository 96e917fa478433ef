import type { Dispatcher } from 'undici';
import { AuthenticationError, RegistryError, type RegistryErrorDetail } from '../errors';
import { describeRequest, redactUrl, type RequestSubject } from './describe';
import { isRetryableStatus } from './retry';

/** Error bodies are short JSON documents; more than this is not an error body worth reading. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** Reads a registry's JSON error body; returns no details when the body is absent, too long or not that JSON. */
export async function readErrorBody(body: Dispatcher.ResponseData['body']): Promise<RegistryErrorDetail[]> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      const buffer = Buffer.from(chunk as Uint8Array);
      size += buffer.length;
      if (size > MAX_ERROR_BODY_BYTES) {
        body.destroy();
        return [];
      }
      chunks.push(buffer);
    }
  } catch {
    return [];
  }
  return parseErrorBody(Buffer.concat(chunks).toString('utf8'));
}

/** Parses `{"errors":[{"code","message","detail"}]}` or an OAuth2 error; ignores entries without a string code. */
export function parseErrorBody(text: string): RegistryErrorDetail[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [];
  }
  const { errors, error, error_description: description } = (parsed ?? {}) as Record<string, unknown>;
  if (typeof error === 'string') {
    // OAuth2 token endpoints return {"error":"invalid_grant","error_description":"..."} (RFC 6749 section 5.2).
    return [{ code: error, message: typeof description === 'string' ? description : undefined }];
  }
  if (!Array.isArray(errors)) {
    return [];
  }
  const details: RegistryErrorDetail[] = [];
  for (const entry of errors as unknown[]) {
    const { code, message, detail } = (entry ?? {}) as Record<string, unknown>;
    if (typeof code === 'string') {
      details.push({ code, message: typeof message === 'string' ? message : undefined, detail });
    }
  }
  return details;
}

/** The request whose failure is being described. */
export interface FailedRequest {
  method: string;
  registry: string;
  repository: string;
  url: URL;
  actions: readonly string[];
  attempts: number;
  /** Overrides the subject derived from the URL, as for token requests. */
  subject?: RequestSubject;
  /** Overrides the hint derived from the status. */
  hint?: string;
  /** Overrides whether a retry can help, which is otherwise derived from the status. */
  retryable?: boolean;
  /** Makes every non-retryable failure an AuthenticationError, as for token requests. */
  authentication?: boolean;
}

function hintFor(request: FailedRequest, status: number, details: RegistryErrorDetail[]): string | undefined {
  const codes = new Set(details.map((detail) => detail.code));
  if (status === 401) {
    return `check the credentials for ${request.registry}`;
  }
  if (status === 403 || codes.has('DENIED')) {
    return `check that the credentials for ${request.registry} grant ${request.actions.join(',') || 'pull'} on ${request.repository}`;
  }
  if (status === 404 && codes.has('NAME_UNKNOWN')) {
    return `check that repository ${request.repository} exists on ${request.registry}`;
  }
  if (status === 429) {
    return `${request.registry} is rate-limiting requests`;
  }
  return undefined;
}

/** Builds the error for a response whose status the caller does not accept. */
export function statusError(request: FailedRequest, status: number, details: RegistryErrorDetail[]): RegistryError {
  const { subject, digest } = request.subject ?? describeRequest(request.registry, request.repository, request.url);
  const init = {
    method: request.method,
    url: redactUrl(request.url),
    registry: request.registry,
    repository: request.repository,
    subject,
    digest,
    status,
    errors: details,
    retryable: request.retryable ?? isRetryableStatus(status),
    hint: request.hint ?? hintFor(request, status, details),
    attempts: request.attempts,
  };
  const authentication = status === 401 || status === 403 || (request.authentication && !init.retryable);
  return authentication ? new AuthenticationError(init) : new RegistryError(init);
}

/** Builds the error for a request that got no response, such as a refused or reset connection. */
export function connectionError(request: FailedRequest, cause: unknown, retryable: boolean): RegistryError {
  const { subject, digest } = request.subject ?? describeRequest(request.registry, request.repository, request.url);
  const error = cause as { code?: unknown; message?: unknown };
  const code = typeof error?.code === 'string' ? `${error.code}: ` : '';
  const message = typeof error?.message === 'string' ? error.message : String(cause);
  return new RegistryError({
    method: request.method,
    url: redactUrl(request.url),
    registry: request.registry,
    repository: request.repository,
    subject,
    digest,
    retryable,
    failure: `${code}${message}`,
    attempts: request.attempts,
    cause,
  });
}
