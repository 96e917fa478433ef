import { SEARCH_ATTRIBUTES } from './search-attributes';

/** gRPC status codes the operator service returns for the cases handled here. */
const GRPC_ALREADY_EXISTS = 6;
const GRPC_PERMISSION_DENIED = 7;
/** `IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD` of the Temporal API (temporal/api/enums/v1/common.proto). */
const KEYWORD = 2;

/** `--search-attribute` flags that register every attribute on `temporal server start-dev`. */
export const SEARCH_ATTRIBUTE_FLAGS = SEARCH_ATTRIBUTES.map((key) => `--search-attribute ${key.name}=Keyword`).join(
  ' ',
);

/** The Temporal CLI command that registers every search attribute on a namespace of a running server. */
export function searchAttributeCreateCommand(namespace: string): string {
  const pairs = SEARCH_ATTRIBUTES.map((key) => `--name ${key.name} --type Keyword`).join(' ');
  return `temporal operator search-attribute create --namespace ${namespace} ${pairs}`;
}

/** The part of a connection that registers search attributes; both client and worker connections have it. */
export interface OperatorConnection {
  operatorService: {
    addSearchAttributes(request: { namespace: string; searchAttributes: Record<string, number> }): Promise<unknown>;
  };
}

/** How registering the search attributes ended. */
export type SearchAttributeSetup = 'registered' | 'present' | 'permission-denied';

function grpcCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * Registers the search attributes releases are listed by, as Keyword, on a namespace. Idempotent: attributes that
 * exist already are left as they are. Returns `permission-denied` when the caller may not change the namespace,
 * which is usual on Temporal Cloud and on clusters where an operator registers attributes; other errors are thrown.
 */
export async function registerSearchAttributes(
  connection: OperatorConnection,
  namespace: string,
): Promise<SearchAttributeSetup> {
  const searchAttributes: Record<string, number> = {};
  for (const key of SEARCH_ATTRIBUTES) {
    searchAttributes[key.name] = KEYWORD;
  }
  try {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes });
    return 'registered';
  } catch (error) {
    const code = grpcCode(error);
    if (code === GRPC_ALREADY_EXISTS) {
      return 'present';
    }
    if (code === GRPC_PERMISSION_DENIED) {
      return 'permission-denied';
    }
    throw error;
  }
}

/**
 * Checks whether an error is the server's rejection of a start or a list that uses a search attribute the namespace
 * lacks. Temporal 1.29 words them "has no mapping defined for search attribute X" (start) and
 * "column name 'X' is not a valid search attribute" (list).
 */
export function isUnknownSearchAttributeError(error: unknown): boolean {
  for (let current = error; current instanceof Error; current = current.cause) {
    if (/no mapping defined for search attribute|is not a valid search attribute/i.test(current.message)) {
      return true;
    }
  }
  return false;
}
