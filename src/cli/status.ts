import { type Command } from 'commander';
import { runAction, withClient } from './action';
import { ExitCode } from './exit-codes';
import { followWorkflow } from './follow';
import { addCommonOptions, type ConnectionOptionValues } from './options';
import { printJson } from './output';
import { exitCodeForFinalState, formatWorkflowStatus, readWorkflowStatus, type WorkflowStatus } from './status-view';

interface StatusOptionValues extends ConnectionOptionValues {
  watch?: boolean;
}

// Clears the terminal and moves the cursor home, so a watched status redraws in place.
const CLEAR_SCREEN = '\x1b[2J\x1b[H';

function printWatched(view: WorkflowStatus, options: StatusOptionValues): void {
  if (options.json) {
    // One compact document per line, so a consumer reads the stream line by line.
    process.stdout.write(JSON.stringify(view.status) + '\n');
  } else if (process.stdout.isTTY) {
    process.stdout.write(CLEAR_SCREEN + formatWorkflowStatus(view) + '\n');
  } else {
    process.stdout.write(formatWorkflowStatus(view) + '\n\n');
  }
}

async function runStatus(id: string, options: StatusOptionValues): Promise<ExitCode> {
  return withClient(options, async (client) => {
    if (!options.watch) {
      const view = await readWorkflowStatus(client, id);
      if (options.json) {
        printJson(view.status);
      } else {
        process.stdout.write(formatWorkflowStatus(view) + '\n');
      }
      return ExitCode.Success;
    }
    const final = await followWorkflow(client, id, { onChange: (view) => printWatched(view, options) });
    return exitCodeForFinalState(final);
  });
}

/** Registers `promote status`. */
export function registerStatusCommand(program: Command): void {
  const command = program
    .command('status')
    .summary('Show the state of a release or rollback')
    .description('Show the state of a release or rollback: stages, digests, approvals, hook results')
    .argument('<release-id>', 'release or rollback ID')
    .option('--watch', 'redraw on every change until the release ends; then exit 0 if it completed, else 1');
  addCommonOptions(command).action(runAction(runStatus));
}
