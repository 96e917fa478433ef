/**
 * `npm run chaos`: releases through a four-stage pipeline while workers are killed, the Temporal server restarts
 * and the registries fail requests, then a check of every release against the registries. Prints the report on
 * stdout (last line `N/N releases correct`) and exits 1 unless every release is correct.
 */
import { randomInt } from 'node:crypto';
import { Command, InvalidArgumentError, Option } from 'commander';
import { runChaos, type ChaosOptions } from './run';

interface Flags {
  releases?: number;
  faultRate?: number;
  kills?: number;
  restarts?: number;
  seed?: number;
  deadline?: number;
  short: boolean;
  keep: boolean;
}

/** The full run, and the short one CI runs: fewer releases, started closer together, a handful of kills. */
const FULL = {
  releases: 50,
  kills: 10,
  restarts: 3,
  deadlineSeconds: 1200,
  startGapMs: [500, 2500] as [number, number],
};
const SHORT = {
  releases: 10,
  kills: 3,
  restarts: 1,
  deadlineSeconds: 360,
  startGapMs: [300, 1500] as [number, number],
};
const DEFAULT_FAULT_RATE = 0.3;
const WORKERS = 2;

function integer(minimum: number) {
  return (text: string): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < minimum) {
      throw new InvalidArgumentError(`expected an integer of at least ${minimum}, got "${text}"`);
    }
    return value;
  };
}

function share(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || value >= 1) {
    throw new InvalidArgumentError(`expected a number from 0 up to (not including) 1, got "${text}"`);
  }
  return value;
}

function parseOptions(argv: string[]): ChaosOptions {
  const program = new Command('chaos')
    .description('Prove that releases survive killed workers, Temporal server restarts and failing registries')
    .option('--releases <count>', `releases to start (default: ${FULL.releases}, short: ${SHORT.releases})`, integer(1))
    .option('--fault-rate <share>', `share of registry requests that fail (default: ${DEFAULT_FAULT_RATE})`, share)
    .option(
      '--kills <count>',
      `workers killed with SIGKILL (default: ${FULL.kills}, short: ${SHORT.kills})`,
      integer(0),
    )
    .option(
      '--restarts <count>',
      `Temporal server restarts (default: ${FULL.restarts}, short: ${SHORT.restarts})`,
      integer(0),
    )
    .option('--seed <number>', 'seed of the run plan; the same seed repeats the plan (default: random)', integer(0))
    .option(
      '--deadline <seconds>',
      `time every release has to close after the last start (default: ${FULL.deadlineSeconds}, short: ${SHORT.deadlineSeconds})`,
      integer(1),
    )
    .addOption(
      new Option('--short', 'the short form CI runs: fewer releases, a handful of kills and faults').default(false),
    )
    .option('--keep', 'keep the run folder (logs, Temporal database, report.json) even when the run passes', false)
    .exitOverride();
  program.parse(argv);
  const flags = program.opts<Flags>();
  const form = flags.short ? SHORT : FULL;
  return {
    releases: flags.releases ?? form.releases,
    faultRate: flags.faultRate ?? DEFAULT_FAULT_RATE,
    kills: flags.kills ?? form.kills,
    restarts: flags.restarts ?? form.restarts,
    seed: flags.seed ?? randomInt(1, 1_000_000),
    startGapMs: form.startGapMs,
    workers: WORKERS,
    deadlineMs: (flags.deadline ?? form.deadlineSeconds) * 1000,
    keep: flags.keep,
  };
}

async function main(): Promise<number> {
  let options: ChaosOptions;
  try {
    options = parseOptions(process.argv);
  } catch (error) {
    // Commander has printed the usage error or the help text.
    return (error as { exitCode?: number }).exitCode ?? 2;
  }
  const began = Date.now();
  const log = (message: string) => {
    const seconds = ((Date.now() - began) / 1000).toFixed(1).padStart(6);
    process.stderr.write(`[chaos ${seconds}s] ${message}\n`);
  };
  const result = await runChaos(options, log);
  process.stdout.write(result.lines.join('\n') + '\n');
  if (result.kept) {
    log(`logs, Temporal database and report.json are kept in ${result.runDir}`);
  }
  return result.ok ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `chaos run failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
