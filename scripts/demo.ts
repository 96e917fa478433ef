/**
 * `npm run demo`: the whole job on this machine. It starts a Temporal dev server (web UI, state in
 * .demo/temporal.db), two registries and a worker. It builds the example application's image and releases it through
 * examples/pipeline.yaml (dev → test → staging → prod) with real test hooks and a prod approval. Then it releases a
 * bad build that staging stops, rolls test back, and prints where every environment tag points.
 *
 * Exits 0 only when the registries show every stage's environment tag on the digest built in dev, and staging back
 * on that digest after the bad build. Ctrl-C stops the processes the demo started. PROMOTE_DEMO_DIR moves the
 * demo's folder (default .demo in the repository).
 *
 *   npm run demo -- --keep   leave the stack running after the table, to try commands against it
 *   npm run demo -- --stop   stop a stack that --keep left running
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { RELEASE_WORKFLOW_TYPE, ROLLBACK_WORKFLOW_TYPE } from '../src/temporal/constants';
import { PIPELINE_ATTRIBUTE } from '../src/temporal/search-attributes';
import { printKeptStack, stopKeptStack } from './demo/keep';
import { DemoStack } from './demo/stack';
import { demoDir } from './demo/state';
import { StepLog } from './demo/step-log';
import { Story, type StoryResult } from './demo/story';
import { finalTable } from './demo/table';

const ROOT = join(__dirname, '..');
/** How long releases left running by an interrupted run get to roll back after cancellation, before termination. */
const LEFTOVER_CANCEL_MS = 60_000;

/**
 * Cancels the releases and rollbacks an interrupted run left running, so that they roll their stage back and free
 * its lock. A workflow that has not closed after LEFTOVER_CANCEL_MS is terminated.
 */
async function cancelLeftovers(client: Client, pipeline: string, log: StepLog): Promise<void> {
  const query =
    `${PIPELINE_ATTRIBUTE.name} = '${pipeline}' AND ExecutionStatus = 'Running' AND ` +
    `WorkflowType IN ('${RELEASE_WORKFLOW_TYPE}', '${ROLLBACK_WORKFLOW_TYPE}')`;
  const ids: string[] = [];
  for await (const info of client.workflow.list({ query })) {
    ids.push(info.workflowId);
  }
  if (ids.length === 0) {
    return;
  }
  await Promise.all(ids.map((id) => client.workflow.getHandle(id).cancel()));
  const deadline = Date.now() + LEFTOVER_CANCEL_MS;
  const terminated: string[] = [];
  for (const id of ids) {
    const handle = client.workflow.getHandle(id);
    while ((await handle.describe()).status.name === 'RUNNING') {
      if (Date.now() > deadline) {
        await handle.terminate('left running by an interrupted demo run; cancellation did not finish in time');
        terminated.push(id);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  const note = terminated.length > 0 ? `; terminated ${terminated.join(', ')}, which did not end in time` : '';
  log.step(`cancelled what the interrupted run left running: ${ids.join(', ')}${note}`);
}

const USAGE = 'usage: npm run demo [-- --keep | --stop]';

/** The work of one run: the whole demo, the demo with its stack left running, or the stop of a kept stack. */
type Mode = 'run' | 'keep' | 'stop';

function parseMode(argv: string[]): Mode {
  const { values } = parseArgs({
    args: argv,
    options: { keep: { type: 'boolean', default: false }, stop: { type: 'boolean', default: false } },
    strict: true,
  });
  if (values.keep && values.stop) {
    throw new Error(`--keep and --stop exclude each other\n${USAGE}`);
  }
  if (values.stop) {
    return 'stop';
  }
  return values.keep ? 'keep' : 'run';
}

async function main(mode: Mode): Promise<number> {
  const log = new StepLog();
  if (mode === 'stop') {
    return stopKeptStack(ROOT, log);
  }
  const stack = new DemoStack(ROOT, demoDir(ROOT), log);
  let startup: Promise<void> | undefined;

  let stopping = false;
  const interrupt = (reason: string, exitCode: number) => {
    if (stopping) {
      log.step(`${reason}: still stopping what the demo started`);
      return;
    }
    stopping = true;
    log.step(`${reason}: stopping what the demo started (pids ${stack.pids().join(', ') || 'none'})`);
    // A process that start() is still bringing up is stopped when start() returns, hence the second stop().
    void stack
      .stop()
      .then(() => startup?.catch(() => undefined))
      .then(() => stack.stop())
      .finally(() => process.exit(exitCode));
  };
  // Handlers stay for every signal, not only the first. A second Ctrl-C, or the copy of the signal that a
  // wrapper such as the tsx CLI relays, must not end this process before its children are stopped.
  process.on('SIGINT', () => interrupt('SIGINT', 130));
  process.on('SIGTERM', () => interrupt('SIGTERM', 143));
  process.on('SIGHUP', () => interrupt('SIGHUP', 129));
  // Output piped into a program that exits early (`npm run demo | head`) must not leave the stack running.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => interrupt(`stdout: ${error.code ?? error.message}`, 1));
  process.on('uncaughtException', (error) => interrupt(`unexpected error: ${error.stack ?? error.message}`, 1));

  let connection: Connection | undefined;
  let table: string[] = [];
  let result: StoryResult | undefined;
  let verdict: string;
  let code = 1;
  try {
    startup = stack.start();
    await startup;
    connection = await Connection.connect({ address: stack.temporal.address });
    const client = new Client({ connection });
    if (stack.previousRunInterrupted) {
      await cancelLeftovers(client, stack.pipeline.name, log);
    }

    result = await new Story(ROOT, stack, client, log).run();
    table = finalTable(stack, result);
    stack.finish();
    if (result.problems.length > 0) {
      verdict = `FAILED: ${result.problems.join('; ')}`;
    } else {
      code = 0;
      verdict =
        `every stage holds ${result.good.build.digest}, the digest built in dev; ` +
        `staging went back to it after ${result.bad.build.version} failed there`;
    }
  } catch (error) {
    if (stopping) {
      return 130;
    }
    verdict = `FAILED: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    await connection?.close().catch(() => undefined);
  }

  if (stopping) {
    return 130;
  }
  if (mode === 'keep' && result !== undefined) {
    log.step(`${verdict} (${log.elapsed().toFixed(1)} s)`);
    log.raw(table);
    printKeptStack(stack, result, stack.keep(), log);
    // The kept processes would hold the event loop open through their ChildProcess handles.
    process.exit(code);
  }
  await stack.stop();
  log.step('stopped the worker, the registries and the Temporal server');
  log.step(`${verdict} (${log.elapsed().toFixed(1)} s)`);
  log.raw(table);
  return code;
}

let mode: Mode;
try {
  mode = parseMode(process.argv.slice(2));
} catch (error) {
  const message = (error as Error).message;
  process.stderr.write(`demo: ${message.includes(USAGE) ? message : `${message}\n${USAGE}`}\n`);
  process.exit(2);
}
void main(mode).then((code) => {
  process.exitCode = code;
});
