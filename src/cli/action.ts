import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { Command } from 'commander';
import { type Client } from '@temporalio/client';
import { connectClient, resolveTemporalSettings } from '../temporal/client';
import { isUnknownSearchAttributeError, searchAttributeCreateCommand } from '../temporal/search-attribute-setup';
import { CliError, ExitCode, exitCodeOf } from './exit-codes';
import { type ConnectionOptionValues, connectionFlagsOf } from './options';
import { printErrorJson } from './output';

/**
 * Returns the message a person should read for an error. Temporal wraps the reason a workflow refused
 * an update, or failed, in `cause`, and its own message states only that something failed.
 */
export function errorMessage(error: unknown): string {
  if ((error instanceof WorkflowUpdateFailedError || error instanceof WorkflowFailedError) && error.cause) {
    return error.cause.message;
  }
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}

function reportError(error: unknown, json: boolean): ExitCode {
  const exitCode = exitCodeOf(error);
  const message = errorMessage(error);
  process.stderr.write(`promote: ${message}\n`);
  if (json) {
    printErrorJson(message, exitCode);
  }
  return exitCode;
}

/**
 * Wraps a subcommand's action: its return value, or the exit code of the error it throws, becomes the
 * process exit code. Errors are printed on stderr and, with --json, also as `{"error":{"message","exitCode"}}` on
 * stdout.
 */
export function runAction<A extends unknown[]>(
  handler: (...args: A) => Promise<ExitCode | void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const command = args[args.length - 1] as Command;
    const json = Boolean(command.opts<{ json?: boolean }>().json);
    try {
      process.exitCode = (await handler(...args)) ?? ExitCode.Success;
    } catch (error) {
      process.exitCode = reportError(error, json);
    }
  };
}

/**
 * Connects to Temporal with the command's connection options, runs `body`, and closes the connection. A namespace
 * without the product's search attributes becomes bad input that names the command registering them.
 */
export async function withClient<T>(options: ConnectionOptionValues, body: (client: Client) => Promise<T>): Promise<T> {
  const client = await connectClient(resolveTemporalSettings(connectionFlagsOf(options)));
  try {
    return await body(client);
  } catch (error) {
    if (isUnknownSearchAttributeError(error)) {
      const namespace = client.options.namespace;
      throw new CliError(
        ExitCode.BadInput,
        `namespace ${namespace} lacks the search attributes releases are listed by; register them with ` +
          `'${searchAttributeCreateCommand(namespace)}', or start 'promote worker', which registers them when allowed`,
        { cause: error },
      );
    }
    throw error;
  } finally {
    await client.connection.close();
  }
}
