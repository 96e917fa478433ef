import { type Command, InvalidArgumentError, Option } from 'commander';
import { releaseStarter } from '../../activities/policy';
import { loadPipelineFile } from '../config/load';
import { RegistryClient } from '../oci/client';
import { createJsonLogger } from '../serve/log';
import { NOTIFICATIONS_PATH, startNotificationServer } from '../serve/server';
import { connectClient, resolveTemporalSettings } from '../temporal/client';
import { TASK_QUEUE } from '../temporal/constants';
import { runAction } from './action';
import { CliError, ExitCode } from './exit-codes';
import { addCommonOptions, type ConnectionOptionValues, connectionFlagsOf } from './options';

const DEFAULT_SECRET_ENV = 'PROMOTE_NOTIFY_SECRET';

interface ServeOptionValues extends ConnectionOptionValues {
  pipeline: string[];
  listen: { host: string; port: number };
  secretEnv: string;
  secretHeader: string;
  taskQueue: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseListen(value: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match || port > 65_535) {
    throw new InvalidArgumentError(
      `expected host:port, e.g. 127.0.0.1:8080 or [::1]:8080, got ${JSON.stringify(value)}`,
    );
  }
  return { host: match[1].replace(/^\[|\]$/g, ''), port };
}

/** Names the address and the fix when the server cannot listen; a port in use exits 3, like other unreachable parts. */
function describeListenFailure(listen: { host: string; port: number }, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code !== 'EADDRINUSE' && code !== 'EADDRNOTAVAIL' && code !== 'EACCES') {
    return error;
  }
  const address = listen.host.includes(':') ? `[${listen.host}]:${listen.port}` : `${listen.host}:${listen.port}`;
  const reasons: Record<string, string> = {
    EADDRINUSE: 'is in use',
    EACCES: 'needs privileges',
    EADDRNOTAVAIL: 'is not on this host',
  };
  const reason = reasons[code];
  return new CliError(
    ExitCode.Unreachable,
    `cannot listen on ${address}: the address ${reason} (${code}); choose another with --listen host:port`,
    { cause: error },
  );
}

/** Serves registry notifications until SIGINT or SIGTERM. */
async function runServe(options: ServeOptionValues): Promise<void> {
  if (options.pipeline.length === 0) {
    throw new CliError(ExitCode.BadInput, 'no pipeline given; name each pipeline file with --pipeline FILE');
  }
  const secret = process.env[options.secretEnv];
  if (!secret) {
    throw new CliError(
      ExitCode.BadInput,
      `the environment variable ${options.secretEnv} is not set; put the shared secret the registry sends in it ` +
        '(or name another variable with --secret-env)',
    );
  }
  const pipelines = options.pipeline.map((file) => loadPipelineFile(file));
  const logger = createJsonLogger();
  for (const pipeline of pipelines.filter((candidate) => !candidate.triggers)) {
    logger.warn('pipeline has no triggers; its pushes start nothing', { pipeline: pipeline.name });
  }

  const client = await connectClient(resolveTemporalSettings(connectionFlagsOf(options)));
  const registry = new RegistryClient({
    insecureRegistries: pipelines.flatMap((pipeline) => pipeline.insecureRegistries),
  });
  const server = await startNotificationServer({
    host: options.listen.host,
    port: options.listen.port,
    pipelines,
    secret,
    secretHeader: options.secretHeader,
    logger,
    push: { registry, startRelease: releaseStarter(client, registry, options.taskQueue) },
  }).catch(async (error: unknown) => {
    await Promise.all([registry.close(), client.connection.close()]);
    throw describeListenFailure(options.listen, error);
  });
  logger.info('serving registry notifications', {
    url: `${server.url}${NOTIFICATIONS_PATH}`,
    pipelines: pipelines.map((pipeline) => pipeline.name).join(','),
    pid: process.pid,
  });

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  logger.info('stopping', {});
  await server.close();
  await registry.close();
  await client.connection.close();
}

/** Registers `promote serve`. */
export function registerServeCommand(program: Command): void {
  const command = program
    .command('serve')
    .summary('Start releases from registry push notifications')
    .description(
      `Accept registry notifications (CNCF Distribution notifications endpoints, POST ${NOTIFICATIONS_PATH}) and ` +
        "start a release for each manifest push to a pipeline's first stage repository that one of its triggers " +
        'matches. Requests must carry the shared secret in the secret header, alone or as "Bearer SECRET". ' +
        'Logs one JSON object per line on stderr. Runs until SIGINT or SIGTERM.',
    )
    .option('--pipeline <file>', 'pipeline file whose triggers to serve; repeatable', collect, [])
    .addOption(
      new Option('--listen <host:port>', 'address to listen on')
        .argParser(parseListen)
        .default({ host: '127.0.0.1', port: 8080 }, '127.0.0.1:8080'),
    )
    .option('--secret-env <name>', 'environment variable that holds the shared secret', DEFAULT_SECRET_ENV)
    .option('--secret-header <name>', 'request header that carries the secret', 'authorization')
    .option('--task-queue <name>', 'task queue the releases run on', TASK_QUEUE);
  addCommonOptions(command).action(runAction(runServe));
}
