/**
 * `npm run demo`: the whole job on this machine. It starts a Temporal dev server (web UI, state in
 * .demo/temporal.db), two registries and a worker. It builds the example application's image and releases it through
 * examples/pipeline.yaml (dev → test → staging → prod) with real test hooks and a prod approval. Then it releases a
 * bad build that staging stops, rolls test back, and prints where every environment tag points.
 *
 * Exits 0 only when the registries show every stage's environment tag on the digest built in dev, and staging back
 * on that digest after the bad build. Ctrl-C stops the processes the demo started. PROMOTE_DEMO_DIR moves the
 * demo's folder (default .demo in the repository).
 */
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { RELEASE_WORKFLOW_TYPE, ROLLBACK_WORKFLOW_TYPE } from '../src/temporal/constants';
import { PIPELINE_ATTRIBUTE } from '../src/temporal/search-attributes';
import { DemoStack } from './demo/stack';
import { demoDir } from './demo/state';
import { StepLog } from './demo/step-log';
import { Story } from './demo/story';
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

async function main(): Promise<number> {
  const log = new StepLog();
  const stack = new DemoStack(ROOT, demoDir(ROOT), log);

  let stopping = false;
  const interrupt = (reason: string, exitCode: number) => {
    if (stopping) {
      return;
    }
    stopping = true;
    log.step(`${reason}: stopping what the demo started (pids ${stack.pids().join(', ') || 'none'})`);
    void stack.stop().finally(() => process.exit(exitCode));
  };
  process.once('SIGINT', () => interrupt('SIGINT', 130));
  process.once('SIGTERM', () => interrupt('SIGTERM', 143));
  process.once('SIGHUP', () => interrupt('SIGHUP', 129));
  // Output piped into a program that exits early (`npm run demo | head`) must not leave the stack running.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => interrupt(`stdout: ${error.code ?? error.message}`, 1));
  process.on('uncaughtException', (error) => interrupt(`unexpected error: ${error.stack ?? error.message}`, 1));

  let connection: Connection | undefined;
  let table: string[] = [];
  let verdict: string;
  let code = 1;
  try {
    await stack.start();
    connection = await Connection.connect({ address: stack.temporal.address });
    const client = new Client({ connection });
    if (stack.previousRunInterrupted) {
      await cancelLeftovers(client, stack.pipeline.name, log);
    }

    const result = await new Story(ROOT, stack, client, log).run();
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
  await stack.stop();
  log.step('stopped the worker, the registries and the Temporal server');
  log.step(`${verdict} (${log.elapsed().toFixed(1)} s)`);
  log.raw(table);
  return code;
}

void main().then((code) => {
  process.exitCode = code;
});
