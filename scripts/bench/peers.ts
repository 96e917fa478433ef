/**
 * The programs a copy case runs: `promote copy`, the peers a user would script in CI instead (crane, regctl,
 * skopeo), and the plain HTTP stream. Each one copies `HOST/REPO:TAG` to `HOST/REPO:TAG` as a child process.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { runProcess, type ProcessRun } from './measure';
import { findTool } from '../lib/tools';

export type CopyTool = 'promote' | 'promote-baseline' | 'crane' | 'regctl' | 'skopeo' | 'http-stream';

/** A tool ready to run: `copy` performs one copy and returns its measurement. */
export interface CopyRunner {
  tool: CopyTool;
  /** Version or build, for the report. */
  version: string;
  copy(source: string, target: string): Promise<ProcessRun>;
}

const ROOT = join(__dirname, '..', '..');
/** The built CLI, as `npm install -g` would run it; built by `npm run build`. */
export const PROMOTE_CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

/**
 * skopeo's blob-info cache for root (containers/image uses /var/lib/containers/cache when the effective user is
 * root, `$XDG_DATA_HOME/containers/cache` otherwise). With it, skopeo mounts blobs from repositories it has
 * seen instead of copying them, which would make every run after the first a different measurement.
 */
const SKOPEO_ROOT_CACHE = '/var/lib/containers/cache';
const SKOPEO_CACHE_FILES = ['blob-info-cache-v1.boltdb', 'blob-info-cache-v1.sqlite'];

/**
 * Returns the environment the tools run in: this process's, without NODE_EXTRA_CA_CERTS. Node reads and parses
 * that file at every start. A machine that points it at its whole CA bundle (220 KB here) adds 28 ms of CPU time
 * and 2 MB to each start of `promote` and of the HTTP stream, while the Go peers read no such file.
 */
export function toolEnvironment(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

/** Scratch folder for the peers' configuration, so the user's own config files are neither read nor changed. */
export class PeerSetup {
  readonly home = mkdtempSync(join(tmpdir(), 'promoter-bench-home-'));
  private readonly httpStreamJs = join(this.home, 'http-stream.js');

  /** `baseline`: another checkout of this repository, built, whose `promote copy` runs as `promote-baseline`. */
  constructor(private readonly baseline?: string) {}

  /** Builds a runner per available tool, in the order given; tools that are missing are reported and left out. */
  async runners(tools: CopyTool[], registries: string[]): Promise<CopyRunner[]> {
    const runners: CopyRunner[] = [];
    for (const tool of tools) {
      const runner = await this.runner(tool, registries);
      if (runner) {
        runners.push(runner);
      } else if (tool !== 'promote-baseline') {
        console.warn(`${tool}: not installed; run 'bash scripts/install-tools.sh --bench'. Its rows are left out.`);
      }
    }
    return runners;
  }

  cleanUp(): void {
    rmSync(this.home, { recursive: true, force: true });
  }

  private async runner(tool: CopyTool, registries: string[]): Promise<CopyRunner | undefined> {
    const env = { ...toolEnvironment(), HOME: this.home, XDG_DATA_HOME: join(this.home, 'data') };
    switch (tool) {
      case 'promote':
        return {
          tool,
          version: 'dist/src/cli/main.js',
          copy: (source, target) =>
            runProcess(process.execPath, [PROMOTE_CLI, 'copy', '--json', source, target], { env: toolEnvironment() }),
        };
      case 'promote-baseline': {
        if (!this.baseline) {
          return undefined;
        }
        const cli = join(this.baseline, 'dist', 'src', 'cli', 'main.js');
        if (!existsSync(cli)) {
          throw new Error(`--baseline ${this.baseline}: ${cli} is missing; run 'npm run build' in that checkout`);
        }
        return {
          tool,
          version: cli,
          copy: (source, target) =>
            runProcess(process.execPath, [cli, 'copy', '--json', source, target], { env: toolEnvironment() }),
        };
      }
      case 'crane': {
        const crane = findTool('crane');
        return crane
          ? {
              tool,
              version: (await runProcess(crane, ['version'], { env })).stdout.trim(),
              copy: (source, target) => runProcess(crane, ['copy', '--insecure', source, target], { env }),
            }
          : undefined;
      }
      case 'regctl': {
        const regctl = findTool('regctl');
        if (!regctl) {
          return undefined;
        }
        for (const registry of registries) {
          await runProcess(regctl, ['registry', 'set', registry, '--tls', 'disabled'], { env });
        }
        const version = (await runProcess(regctl, ['version', '--format', '{{.VCSTag}}'], { env })).stdout.trim();
        return {
          tool,
          version,
          copy: (source, target) => runProcess(regctl, ['image', 'copy', source, target], { env }),
        };
      }
      case 'skopeo': {
        const skopeo = findTool('skopeo');
        if (!skopeo) {
          return undefined;
        }
        const version = (await runProcess(skopeo, ['--version'], { env })).stdout.trim();
        return { tool, version, copy: (source, target) => this.runSkopeo(skopeo, env, source, target) };
      }
      case 'http-stream':
        this.buildHttpStream();
        return {
          tool,
          version: 'scripts/bench/http-stream.ts',
          copy: (source, target) =>
            runProcess(process.execPath, [this.httpStreamJs, source, target], {
              env: { ...toolEnvironment(), NODE_PATH: join(ROOT, 'node_modules') },
            }),
        };
    }
  }

  private runSkopeo(skopeo: string, env: NodeJS.ProcessEnv, source: string, target: string): Promise<ProcessRun> {
    for (const folder of [SKOPEO_ROOT_CACHE, join(this.home, 'data', 'containers', 'cache')]) {
      for (const file of SKOPEO_CACHE_FILES) {
        rmSync(join(folder, file), { force: true });
      }
    }
    const args = ['copy', '--quiet', '--all', '--src-tls-verify=false', '--dest-tls-verify=false'];
    return runProcess(skopeo, [...args, `docker://${source}`, `docker://${target}`], { env });
  }

  /**
   * Compiles the HTTP stream to plain JavaScript once, so that its runs start as fast as `node` does. Running it
   * through tsx would add the compiler's start-up to every run.
   */
  private buildHttpStream(): void {
    const source = readFileSync(join(__dirname, 'http-stream.ts'), 'utf8');
    const output = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    });
    mkdirSync(this.home, { recursive: true });
    writeFileSync(this.httpStreamJs, output.outputText);
  }
}
