import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { errorMessage } from '../../src/cli/action';
import { CliError, EXIT_CODES_HELP, ExitCode, exitCodeOf } from '../../src/cli/exit-codes';
import { formatFacts, formatTable, formatTime, shortDigest } from '../../src/cli/output';
import { InvalidPipelineError } from '../../src/config/load';
import { AuthenticationError, RegistryError } from '../../src/oci/errors';
import { Reference } from '../../src/oci/reference';
import { TemporalUnreachableError } from '../../src/temporal/client';
import { ReleaseAlreadyEndedError } from '../../src/temporal/releases';
import { promote, promoteEnvironment } from './promote-process';

function registryError(status: number | undefined, Class = RegistryError): RegistryError {
  return new Class({
    method: 'HEAD',
    url: 'http://127.0.0.1:5000/v2/app/manifests/latest',
    registry: '127.0.0.1:5000',
    repository: 'app',
    subject: 'manifest 127.0.0.1:5000/app:latest',
    status,
    retryable: status === undefined || status >= 500,
  });
}

function captured(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('exitCodeOf', () => {
  it.each<[string, unknown, ExitCode]>([
    ['a CliError', new CliError(ExitCode.Failure, 'release failed'), 1],
    ['an unreachable Temporal server', new TemporalUnreachableError('127.0.0.1:7233'), 3],
    ['a registry without response', registryError(undefined), 3],
    ['a registry server error', registryError(503), 3],
    ['a rate-limited registry', registryError(429), 3],
    ['a missing image', registryError(404), 2],
    ['rejected credentials', registryError(401, AuthenticationError), 2],
    ['an invalid pipeline', new InvalidPipelineError('p.yaml', [{ path: 'name', message: 'missing' }]), 2],
    ['an invalid reference', captured(() => Reference.parse('UPPER CASE')), 2],
    ['a digest released before', new ReleaseAlreadyEndedError('release-web-1', 'sha256:1', 'COMPLETED'), 2],
    ['an unknown workflow', new WorkflowNotFoundError('not found', 'release-web-1', undefined), 2],
    ['a rejected update', new WorkflowUpdateFailedError('Workflow Update failed', new Error('not an approver')), 2],
    ['anything else', new Error('boom'), 1],
  ])('maps %s', (_, error, code) => {
    expect(exitCodeOf(error)).toBe(code);
  });

  it('is listed in the help text for every code', () => {
    for (const code of Object.values(ExitCode)) {
      expect(EXIT_CODES_HELP).toMatch(new RegExp(`^  ${code}  \\S`, 'm'));
    }
  });

  it('is shown by promote --help with every subcommand', async () => {
    const run = await promote(promoteEnvironment('127.0.0.1:1'), '--help');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(EXIT_CODES_HELP);
    for (const name of ['copy', 'start', 'approve', 'reject', 'status', 'list', 'history', 'rollback', 'worker']) {
      expect(run.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
    }
  });

  it('is 0 for promote --version, which prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
      version: string;
    };
    const run = await promote(promoteEnvironment('127.0.0.1:1'), '--version');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${version}\n`);
  });
});

describe('errorMessage', () => {
  it("shows the workflow's reason for a rejected update", () => {
    const failure = ApplicationFailure.create({ message: '"eve" is not an approver of stage "prod"' });
    const error = new WorkflowUpdateFailedError('Workflow Update failed', failure);
    expect(errorMessage(error)).toBe('"eve" is not an approver of stage "prod"');
  });
});

describe('output', () => {
  it('aligns facts and leaves out empty ones', () => {
    expect(
      formatFacts([
        ['release', 'release-web-1'],
        ['failure', undefined],
        ['state', 'running'],
        ['note', ''],
      ]),
    ).toBe('release  release-web-1\nstate    running');
  });

  it('pads table columns except the last', () => {
    expect(
      formatTable(
        ['stage', 'state', 'reason'],
        [
          ['test', 'promoted', ''],
          ['production', 'rolled-back', 'hook smoke failed'],
        ],
      ),
    ).toBe(
      ['STAGE       STATE        REASON', 'test        promoted', 'production  rolled-back  hook smoke failed'].join(
        '\n',
      ),
    );
  });

  it('shortens digests for tables', () => {
    expect(shortDigest(`sha256:${'ab'.repeat(32)}`)).toBe('sha256:abababababab');
    expect(shortDigest(null)).toBe('-');
  });

  it('shows times in UTC without milliseconds', () => {
    expect(formatTime('2026-03-01T07:08:09.123Z')).toBe('2026-03-01 07:08:09Z');
    expect(formatTime(undefined)).toBe('-');
  });
});
