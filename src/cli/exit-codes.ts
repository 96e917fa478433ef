import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { NamespaceNotFoundError } from '@temporalio/common';
import { InvalidPipelineError } from '../config/load';
import { BadCopyInputError } from './copy';
import { CredentialConfigError } from '../oci/auth/credentials';
import { InvalidDigestError, InvalidReferenceError, RegistryError } from '../oci/errors';
import { InvalidTemporalConfigError, isUnavailableError, TemporalUnreachableError } from '../temporal/client';
import { ReleaseAlreadyEndedError, SourceTagMismatchError } from '../temporal/releases';

/** Exit codes of `promote`, for CI scripts to branch on. */
export const ExitCode = {
  /** The command did what it was asked; with --wait, the release or rollback completed. */
  Success: 0,
  /** The release or rollback failed, was rejected, expired, was superseded or cancelled; or an unexpected error. */
  Failure: 1,
  /**
   * Bad input: an invalid reference, digest, pipeline file, option or docker config, a missing credential helper,
   * an unknown stage or release, a rejected approval.
   */
  BadInput: 2,
  /** Temporal, a worker (for queries and updates) or a registry could not be reached; or serve could not listen. */
  Unreachable: 3,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The exit codes as `promote --help` lists them. */
export const EXIT_CODES_HELP = `
Exit codes:
  0  success; with --wait, the release or rollback completed
  1  failure: the release failed, was rejected, expired, was superseded or cancelled (with --wait)
  2  bad input: invalid reference, digest, pipeline file, option or docker config, missing credential helper,
     unknown stage or release, rejected approval
  3  cannot reach Temporal, a worker or a registry; or serve cannot listen on its address (in use)`;

/** An error with the exit code it ends the command with. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

function registryExitCode(error: RegistryError): ExitCode {
  // No response or a server error: the registry is down or overloaded, not the input wrong.
  if (error.status === undefined || error.status >= 500 || error.status === 429) {
    return ExitCode.Unreachable;
  }
  return ExitCode.BadInput;
}

/** Maps an error to the exit code it ends the command with. */
export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof CliError || error instanceof BadCopyInputError) {
    return error.exitCode;
  }
  if (error instanceof TemporalUnreachableError) {
    return ExitCode.Unreachable;
  }
  if (error instanceof RegistryError) {
    return registryExitCode(error);
  }
  if (
    error instanceof InvalidPipelineError ||
    error instanceof CredentialConfigError ||
    error instanceof InvalidReferenceError ||
    error instanceof InvalidDigestError ||
    error instanceof InvalidTemporalConfigError ||
    error instanceof ReleaseAlreadyEndedError ||
    error instanceof SourceTagMismatchError ||
    error instanceof NamespaceNotFoundError ||
    error instanceof WorkflowNotFoundError ||
    error instanceof WorkflowUpdateFailedError
  ) {
    return ExitCode.BadInput;
  }
  if (isUnavailableError(error)) {
    return ExitCode.Unreachable;
  }
  return ExitCode.Failure;
}
