#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { Command, CommanderError } from 'commander';

// undici parses HTTP with llhttp compiled to WebAssembly. V8's optimising WebAssembly compiler adds
// about 0.1 s of start-up and 35 MB of peak RSS (measured with Node 20.20 and undici 7 on 2 cores).
// The baseline compiler is fast enough, because llhttp passes response bodies through without
// scanning them. The flag must be set before undici compiles llhttp at its first connection.
setFlagsFromString('--liftoff-only');
// V8 compiles a function with TurboFan, on background threads, after about 200 KB of its bytecode has run. Most
// commands end within a second, before that work pays off, and on a busy machine the compiler threads take CPU
// from the transfer. Eight times that budget cut the CPU time of `promote copy` by 18% for a 60 MiB index and
// 14% for 200 MiB, and left a 1 GiB copy unchanged (Node 20.20 on 2 cores, `perf stat`).
setFlagsFromString('--interrupt-budget=540672');
// Every 64 KiB a copy reads allocates a short-lived Buffer, so V8 would double the young generation up to 16 MiB
// per semi-space, where the garbage Buffers keep their 64 KiB each until a scavenge. Keeping the young generation
// at its initial size lowered the peak RSS of a 1 GiB `promote copy` from about 95 MiB to about 82 MiB at the same
// CPU time (Node 20.20, GNU time). It must be set before modules load, or the young generation has grown already.
// Other commands keep V8's default, because the worker's heap contains the objects of many workflows.
if (process.argv[2] === 'copy') {
  setFlagsFromString('--semi-space-growth-factor=1');
}

type Register = (program: Command) => void;

/** A subcommand file: the command names it adds and how to load its register function. */
interface Subcommand {
  names: string[];
  load: () => Promise<Register>;
}

/**
 * Every subcommand, each in its own file. Files are loaded only when their command runs (or for the
 * overall help), so `promote copy` does not pay for loading the Temporal client at start-up.
 */
const SUBCOMMANDS: Subcommand[] = [
  { names: ['copy'], load: async () => (await import('./copy.js')).registerCopyCommand },
  { names: ['start'], load: async () => (await import('./start.js')).registerStartCommand },
  { names: ['approve', 'reject'], load: async () => (await import('./approve.js')).registerApprovalCommands },
  { names: ['status'], load: async () => (await import('./status.js')).registerStatusCommand },
  { names: ['list'], load: async () => (await import('./list.js')).registerListCommand },
  { names: ['history'], load: async () => (await import('./history.js')).registerHistoryCommand },
  { names: ['rollback'], load: async () => (await import('./rollback.js')).registerRollbackCommand },
  { names: ['worker'], load: async () => (await import('./worker.js')).registerWorkerCommand },
  { names: ['policy'], load: async () => (await import('./policy.js')).registerPolicyCommands },
  { names: ['serve'], load: async () => (await import('./serve.js')).registerServeCommand },
];

/**
 * Builds the `promote` program. With `argv`, only the subcommand it names is loaded; without one, or
 * when argv names no known subcommand, all are (for help and usage errors).
 */
export async function buildProgram(argv?: string[]): Promise<Command> {
  const program = new Command('promote')
    .description('Promote container images by digest through pipeline stages')
    .version(packageVersion(), '--version', 'print the version of promote')
    .showHelpAfterError()
    .exitOverride();
  const requested = argv?.[2];
  const matching = SUBCOMMANDS.filter((subcommand) => requested !== undefined && subcommand.names.includes(requested));
  const selected = matching.length > 0 ? matching : SUBCOMMANDS;
  if (selected === SUBCOMMANDS) {
    program.addHelpText('after', (await import('./exit-codes.js')).EXIT_CODES_HELP);
  }
  for (const subcommand of selected) {
    (await subcommand.load())(program);
  }
  return program;
}

/** Checks whether `--json` is among the arguments, before a `--` that ends the options. */
function jsonRequested(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return argv.slice(2, end < 0 ? undefined : end).includes('--json');
}

/**
 * Returns the version in this project's package.json, found by walking up from this file, which runs from `src/cli`
 * under tsx and from `dist/src/cli` when built.
 */
function packageVersion(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (manifest.name === 'image-promoter' && manifest.version) {
        return manifest.version;
      }
    } catch {
      // No package.json here: look in the parent folder.
    }
  }
  return 'unknown';
}

/** Runs the program and maps a thrown error to a message on stderr and an exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    await (await buildProgram(argv)).parseAsync(argv);
    // Subcommands that report their own outcome (a failed release with --wait) set process.exitCode.
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    const { ExitCode, exitCodeOf } = await import('./exit-codes.js');
    if (error instanceof CommanderError) {
      // Commander has printed the usage error or the help text already.
      const shownOnRequest = error.code === 'commander.helpDisplayed' || error.code === 'commander.version';
      if (shownOnRequest || error.exitCode === 0) {
        return ExitCode.Success;
      }
      // Option errors end before any action runs, so the action's JSON error output must be repeated here.
      if (jsonRequested(argv)) {
        const message = error.message.replace(/^error: /, '').replace(/\n/g, ' ');
        (await import('./output.js')).printErrorJson(message, ExitCode.BadInput);
      }
      return ExitCode.BadInput;
    }
    process.stderr.write(`promote: ${error instanceof Error ? error.message : String(error)}\n`);
    return exitCodeOf(error);
  }
}

if (require.main === module) {
  // A reader that stops early (`promote history | head -1`) closes the pipe, and the output left has no reader.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') {
      throw error;
    }
    process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
  });
  void main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
