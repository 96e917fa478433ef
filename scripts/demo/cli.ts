/**
 * Runs the real `promote` CLI as child processes, the way a person or a CI job would, and records every call in
 * `commands.jsonl` in the demo folder (the README test reads it to see which commands the demo ran).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { appendFileSync, openSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

/** Output and exit code of one CLI run. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export class PromoteCli {
  private readonly env: NodeJS.ProcessEnv;
  private readonly main: string;

  constructor(
    private readonly root: string,
    private readonly demoDir: string,
    private readonly address: string,
  ) {
    this.main = join(root, 'src', 'cli', 'main.ts');
    this.env = cliEnvironment(demoDir, address);
  }

  /**
   * Returns the command as a person types it in a clone of this repository. `-s` keeps npm's banner off stdout, so
   * the output can be parsed.
   */
  display(args: string[]): string {
    return `npm run -s promote -- ${this.withAddress(args).map(quote).join(' ')}`;
  }

  /** Runs `promote ARGS --address …` to its end. */
  run(args: string[]): Promise<CliRun> {
    const full = this.withAddress(args);
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', this.main, ...full],
        { cwd: this.root, env: this.env, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => {
          let code = 0;
          if (error !== null) {
            code = typeof error.code === 'number' ? error.code : 1;
          }
          appendFileSync(join(this.demoDir, 'commands.jsonl'), JSON.stringify({ args: full, code }) + '\n');
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  /** Runs `promote ARGS --json` and parses its output; a non-zero exit code is an error unless `allowFailure`. */
  async json<T>(args: string[], allowFailure = false): Promise<{ code: number; value: T }> {
    const run = await this.run([...args, '--json']);
    if (run.code !== 0 && !allowFailure) {
      throw new Error(`${this.display(args)} exited with ${run.code}: ${run.stderr.trim() || run.stdout.trim()}`);
    }
    try {
      return { code: run.code, value: JSON.parse(run.stdout) as T };
    } catch {
      throw new Error(`${this.display(args)} printed no JSON (exit ${run.code}): ${run.stdout}${run.stderr}`);
    }
  }

  /** Starts `promote worker` with its output appended to `logFile`. */
  spawnWorker(logFile: string): ChildProcess {
    const args = this.withAddress(['worker']);
    const output = openSync(logFile, 'a');
    appendFileSync(join(this.demoDir, 'commands.jsonl'), JSON.stringify({ args, code: null }) + '\n');
    return spawn(process.execPath, ['--import', 'tsx', this.main, ...args], {
      cwd: this.root,
      env: this.env,
      stdio: ['ignore', output, output],
    });
  }

  private withAddress(args: string[]): string[] {
    return [...args, '--address', this.address];
  }
}

/**
 * Builds the CLI's environment: this process's, without TEMPORAL_* variables, with a Temporal config file whose default
 * profile is the demo's server. A person's own profile or TEMPORAL_API_KEY would otherwise send the demo's
 * commands elsewhere. Command hooks find `node` first on PATH, the same Node.js that runs the demo.
 */
function cliEnvironment(demoDir: string, address: string): NodeJS.ProcessEnv {
  const configFile = join(demoDir, 'temporal.toml');
  writeFileSync(
    configFile,
    `# Written by scripts/demo.ts: the demo's Temporal dev server.\n[profile.default]\naddress = "${address}"\nnamespace = "default"\n`,
  );
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('TEMPORAL_')) {
      env[name] = value;
    }
  }
  env.TEMPORAL_CONFIG_FILE = configFile;
  env.PATH = [dirname(process.execPath), process.env.PATH ?? ''].join(delimiter);
  env.NO_COLOR = '1';
  return env;
}

/** Quotes an argument for a POSIX shell when it needs it. */
export function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
