/**
 * Test hooks: a command run without a shell, or an HTTP request. A hook that runs and fails is a result, not an
 * error, so the workflow gets its output and decides. Only cancellation is thrown.
 */
import { spawn } from 'node:child_process';
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import { request } from 'undici';
import { HOOK_OUTPUT_MAX_BYTES } from '../src/temporal/constants';
import type { HookResult } from '../workflows/messages';
import { OutputTail } from './output-tail';
import type { RunHookInput } from './types';

/**
 * Interval of local heartbeat calls while a hook runs. The SDK sends them on at most every 2 s (the worker's
 * throttle), and the replies carry cancellation, so a cancelled hook stops within about 2 s.
 */
const HOOK_HEARTBEAT_INTERVAL_MS = 1000;
/** Time between SIGTERM and SIGKILL when a command hook times out or is cancelled. */
const KILL_GRACE_MS = 5000;

/**
 * Variables of the worker's environment that command hooks inherit. Everything else (API keys, tokens) stays in
 * the worker; `hookEnvironment` in createActivities adds more. DOCKER_CONFIG is a directory path, not a secret, and
 * passing it lets a hook that pulls the promoted image read the same docker config as the worker. The credentials
 * in that file are as readable to the hook as ~/.docker/config.json already is through HOME.
 */
const INHERITED_VARIABLES = ['PATH', 'HOME', 'USER', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'DOCKER_CONFIG'];

export interface HookActivityOptions {
  /** Extra variables for every command hook, such as a KUBECONFIG path; the hook's own `env` wins over them. */
  hookEnvironment?: Record<string, string>;
}

export function createHookActivities(options: HookActivityOptions = {}) {
  return {
    /**
     * Runs one hook and returns whether it passed, with its output (the last HOOK_OUTPUT_MAX_BYTES). Not
     * idempotent in general, because it runs whatever the pipeline configures. The workflow retries it only when
     * the worker died or the attempt timed out, so hooks should tolerate running twice.
     */
    runHook: async (input: RunHookInput): Promise<HookResult> => {
      const context = Context.current();
      const timer = setInterval(() => context.heartbeat(), HOOK_HEARTBEAT_INTERVAL_MS);
      context.heartbeat();
      try {
        const result =
          input.hook.command !== undefined
            ? await runCommand(input, input.hook.command, options.hookEnvironment ?? {})
            : await runHttp(input);
        if (context.cancellationSignal.aborted) {
          throw new CancelledFailure(`hook ${input.hook.name} was cancelled`);
        }
        context.log.info('Hook finished', { hook: input.hook.name, stage: input.stage, passed: result.passed });
        return result;
      } finally {
        clearInterval(timer);
      }
    },
  };
}

/** The values every hook receives, as environment variables of a command or placeholders in a URL. */
export function promoteVariables(input: RunHookInput): Record<string, string> {
  return {
    PROMOTE_IMAGE: `${input.repository}@${input.digest}`,
    PROMOTE_DIGEST: input.digest,
    PROMOTE_REPOSITORY: input.repository,
    PROMOTE_STAGE: input.stage,
    PROMOTE_PIPELINE: input.pipeline,
    PROMOTE_RELEASE: input.release,
  };
}

async function runCommand(input: RunHookInput, command: string[], extra: Record<string, string>): Promise<HookResult> {
  const context = Context.current();
  const inherited: Record<string, string> = {};
  for (const name of INHERITED_VARIABLES) {
    const value = process.env[name];
    if (value !== undefined) {
      inherited[name] = value;
    }
  }
  const env = { ...inherited, ...extra, ...input.hook.env, ...promoteVariables(input) };
  const started = Date.now();
  const output = new OutputTail(HOOK_OUTPUT_MAX_BYTES);

  // A process group of its own lets a timeout or cancellation kill the command's children too (a script's `sleep`),
  // which would otherwise keep the output pipes open.
  // NOTE: when the worker itself is killed (SIGKILL), nothing ends this group: the hook runs on as an orphan while
  // the retried activity starts it again on another worker.
  const child = spawn(command[0], command.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk));

  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  const stop = () => {
    signalGroup(child.pid, 'SIGTERM');
    killTimer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS);
  };
  const timeout = setTimeout(() => {
    timedOut = true;
    stop();
  }, input.hook.timeout);
  context.cancellationSignal.addEventListener('abort', stop, { once: true });

  const outcome = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>(
    (resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
      child.once('close', (code, signal) => resolve({ code, signal }));
    },
  );
  clearTimeout(timeout);
  clearTimeout(killTimer);
  context.cancellationSignal.removeEventListener('abort', stop);

  const result: HookResult = {
    name: input.hook.name,
    kind: 'command',
    passed: outcome.error === undefined && !timedOut && outcome.code === 0,
    timedOut,
    durationMs: Date.now() - started,
    output: output.text(),
    outputTruncated: output.truncated,
  };
  if (outcome.code !== null) {
    result.exitCode = outcome.code;
  }
  if (outcome.signal !== null) {
    result.signal = outcome.signal;
  }
  if (outcome.error) {
    result.error = `could not start ${JSON.stringify(command[0])}: ${outcome.error.message}`;
  }
  return result;
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) {
    return;
  }
  try {
    process.kill(-pid, signal);
  } catch {
    // The group has already exited.
  }
}

async function runHttp(input: RunHookInput): Promise<HookResult> {
  const http = input.hook.http!;
  const context = Context.current();
  const variables = promoteVariables(input);
  const url = http.url.replace(/\$\{(PROMOTE_[A-Z]+)\}/g, (placeholder, name: string) =>
    variables[name] === undefined ? placeholder : encodeURIComponent(variables[name]),
  );
  const started = Date.now();
  const output = new OutputTail(HOOK_OUTPUT_MAX_BYTES);
  const result: HookResult = {
    name: input.hook.name,
    kind: 'http',
    passed: false,
    timedOut: false,
    durationMs: 0,
    output: '',
    outputTruncated: false,
  };

  const timeout = AbortSignal.timeout(input.hook.timeout);
  try {
    const response = await request(url, {
      method: http.method,
      headers: http.headers,
      signal: AbortSignal.any([timeout, context.cancellationSignal]),
    });
    for await (const chunk of response.body) {
      output.push(chunk as Buffer);
    }
    result.status = response.statusCode;
    result.passed = http.expectStatus
      ? http.expectStatus.includes(response.statusCode)
      : response.statusCode >= 200 && response.statusCode < 300;
  } catch (error) {
    result.timedOut = timeout.aborted;
    result.error = result.timedOut
      ? `no complete response within ${input.hook.timeout} ms`
      : `${http.method} ${redactQuery(url)} failed: ${(error as Error).message}`;
  }
  result.durationMs = Date.now() - started;
  result.output = output.text();
  result.outputTruncated = output.truncated;
  return result;
}

/** Drops the query string from a URL shown in a result, because query strings often carry tokens. */
function redactQuery(url: string): string {
  const question = url.indexOf('?');
  return question < 0 ? url : `${url.slice(0, question)}?…`;
}
