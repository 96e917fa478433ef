/**
 * `npm run demo -- --keep` leaves the stack running after the table, so that the README's commands can be tried
 * against it; `npm run demo -- --stop` stops it later.
 */
import { quote } from './cli';
import type { DemoStack } from './stack';
import { type DemoProcess, demoDir, readState, stopLeftovers, writeState } from './state';
import type { StepLog } from './step-log';
import type { StoryResult } from './story';

/** Returns the `npm run demo` command line with `args`, naming the demo folder when PROMOTE_DEMO_DIR moved it. */
function demoCommand(args: string[]): string {
  const dir = process.env.PROMOTE_DEMO_DIR;
  const prefix = dir === undefined ? '' : `PROMOTE_DEMO_DIR=${quote(dir)} `;
  return `${prefix}npm run demo -- ${args.join(' ')}`;
}

/** Prints where the kept stack listens, commands to try against it and how to stop it. */
export function printKeptStack(stack: DemoStack, result: StoryResult, kept: DemoProcess[], log: StepLog): void {
  const pids = kept.map((entry) => entry.pid);
  log.step(
    `kept running: Temporal ${stack.temporal.address} (web UI ${stack.temporal.uiUrl}), registries ` +
      `${stack.registryA.host} and ${stack.registryB.host}, a worker (pids ${pids.join(', ')})`,
  );
  const release = result.good.started.workflowId;
  log.raw([
    '',
    'The stack keeps running. Try the README commands against it, for example:',
    `  ${stack.cli.display(['status', release])}`,
    `  ${stack.cli.display(['list', '--pipeline', stack.pipelineFile, '--json'])}`,
    `  ${stack.cli.display(['history', 'prod', '--pipeline', stack.pipelineFile])}`,
    `Stop it with: ${demoCommand(['--stop'])}   (or: kill ${pids.join(' ')})`,
    '',
  ]);
}

/** Stops what a run with `--keep` left running, each process by its PID. Returns the exit code. */
export async function stopKeptStack(root: string, log: StepLog): Promise<number> {
  const dir = demoDir(root);
  const state = readState(dir);
  const stopped = await stopLeftovers(state.processes);
  writeState(dir, { ...state, processes: [] });
  if (stopped.length === 0) {
    log.step(`nothing to stop: no process the demo started from ${dir} is running`);
  } else {
    const listed = stopped.map((entry) => `${entry.name} (pid ${entry.pid})`).join(', ');
    log.step(`stopped ${listed}`);
  }
  return 0;
}
