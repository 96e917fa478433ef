import { Client, Connection, type TLSConfig } from '@temporalio/client';
import { loadClientConfigProfile, toClientOptions, type ClientConfigProfile } from '@temporalio/envconfig';
import { NativeConnection } from '@temporalio/worker';
import { SEARCH_ATTRIBUTE_FLAGS } from './search-attribute-setup';

/** Address used when neither a flag, TEMPORAL_ADDRESS nor a profile sets one: a local dev server. */
export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';
/** Namespace used when neither a flag, TEMPORAL_NAMESPACE nor a profile sets one. */
export const DEFAULT_TEMPORAL_NAMESPACE = 'default';
/** How long a client waits for the server to respond before giving up. A local dev server responds in milliseconds. */
export const CONNECT_TIMEOUT_MS = 5_000;

/** `host:port`, the host a name, an IPv4 address or a bracketed IPv6 address. */
const ADDRESS_PATTERN = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/;

/** Connection settings given on the command line; each overrides the profile and the environment. */
export interface ConnectionFlags {
  /** Frontend address, `host:port`. */
  address?: string;
  namespace?: string;
  /** Profile name in the Temporal CLI's TOML config file (TEMPORAL_CONFIG_FILE or ~/.config/temporalio/temporal.toml). */
  profile?: string;
  /** API key, sent as a bearer token; turns TLS on unless TLS is explicitly off. */
  apiKey?: string;
  /** true forces TLS on, false forces it off; undefined leaves the profile's or environment's choice. */
  tls?: boolean;
}

/** Resolved connection settings: what the client and the worker connect with. */
export interface TemporalSettings {
  address: string;
  namespace: string;
  apiKey?: string;
  /** TLS options, true for TLS with system roots, false or undefined for plain TCP. */
  tls?: TLSConfig | boolean;
  /** gRPC metadata from the profile or TEMPORAL_GRPC_META_* variables. */
  metadata?: Record<string, string>;
}

/** Thrown when the connection settings cannot be read: an unknown profile or an unreadable config file. */
export class InvalidTemporalConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InvalidTemporalConfigError';
  }
}

/** Thrown when no Temporal server responds at the configured address. */
export class TemporalUnreachableError extends Error {
  constructor(
    readonly address: string,
    options?: { cause?: unknown },
  ) {
    super(
      `cannot reach Temporal at ${address}; start one with 'temporal server start-dev ${SEARCH_ATTRIBUTE_FLAGS}', ` +
        'or set TEMPORAL_ADDRESS or --address',
      options,
    );
    this.name = 'TemporalUnreachableError';
  }
}

function definedEntries(env: NodeJS.ProcessEnv): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined) {
      result[key] = value;
    }
  }
  return result;
}

function loadProfile(flags: ConnectionFlags, env: NodeJS.ProcessEnv): ClientConfigProfile {
  try {
    return loadClientConfigProfile({ profile: flags.profile, overrideEnvVars: definedEntries(env) });
  } catch (error) {
    const where = env.TEMPORAL_CONFIG_FILE ?? 'the Temporal config file (~/.config/temporalio/temporal.toml)';
    throw new InvalidTemporalConfigError(
      `cannot load Temporal connection settings from ${where}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/**
 * Resolves connection settings the way the Temporal CLI does, then applies the flags: the TOML profile
 * (`--profile`, else TEMPORAL_PROFILE, else `default`), overridden by TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
 * TEMPORAL_API_KEY, TEMPORAL_TLS and TEMPORAL_TLS_* variables, overridden by the flags.
 */
export function resolveTemporalSettings(
  flags: ConnectionFlags = {},
  env: NodeJS.ProcessEnv = process.env,
): TemporalSettings {
  const profile = loadProfile(flags, env);
  if (flags.address !== undefined) {
    profile.address = flags.address;
  }
  if (flags.namespace !== undefined) {
    profile.namespace = flags.namespace;
  }
  if (flags.apiKey !== undefined) {
    profile.apiKey = flags.apiKey;
  }
  if (flags.tls !== undefined) {
    profile.tls = { ...profile.tls, disabled: !flags.tls };
  }

  let options;
  try {
    options = toClientOptions(profile);
  } catch (error) {
    throw new InvalidTemporalConfigError(
      `cannot read the TLS files of the Temporal profile: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const { connectionOptions } = options;
  const address = connectionOptions.address ?? DEFAULT_TEMPORAL_ADDRESS;
  const port = Number(ADDRESS_PATTERN.exec(address)?.[1] ?? Number.NaN);
  if (!(port >= 1 && port <= 65_535)) {
    throw new InvalidTemporalConfigError(
      `invalid Temporal address ${JSON.stringify(address)}; expected host:port, e.g. 127.0.0.1:7233 or ` +
        'temporal.example.com:7233 (from --address, TEMPORAL_ADDRESS or the profile)',
    );
  }
  return {
    address,
    namespace: options.namespace ?? DEFAULT_TEMPORAL_NAMESPACE,
    apiKey: typeof connectionOptions.apiKey === 'string' ? connectionOptions.apiKey : undefined,
    tls: connectionOptions.tls ?? undefined,
    metadata: profile.grpcMeta,
  };
}

/** Opens a client connection; throws TemporalUnreachableError when the server does not respond in time. */
export async function connectClient(settings: TemporalSettings): Promise<Client> {
  let connection: Connection;
  try {
    connection = await Connection.connect({
      address: settings.address,
      tls: settings.tls,
      apiKey: settings.apiKey,
      metadata: settings.metadata,
      connectTimeout: CONNECT_TIMEOUT_MS,
    });
  } catch (error) {
    throw new TemporalUnreachableError(settings.address, { cause: error });
  }
  return new Client({ connection, namespace: settings.namespace });
}

/** Opens the native connection a worker polls through; throws TemporalUnreachableError when nothing responds. */
export async function connectWorkerConnection(settings: TemporalSettings): Promise<NativeConnection> {
  try {
    return await NativeConnection.connect({
      address: settings.address,
      tls: settings.tls,
      apiKey: settings.apiKey,
      metadata: settings.metadata,
    });
  } catch (error) {
    throw new TemporalUnreachableError(settings.address, { cause: error });
  }
}

/**
 * Checks whether an error means the server stopped responding after the connection was made: gRPC status
 * UNAVAILABLE (14) or DEADLINE_EXCEEDED (4), on the error or its cause.
 */
export function isUnavailableError(error: unknown): boolean {
  for (let current = error; current instanceof Error; current = current.cause) {
    const code = (current as { code?: unknown }).code;
    if (code === 14 || code === 4) {
      return true;
    }
  }
  return false;
}
