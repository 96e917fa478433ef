import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

/** Names of the external programs the local stack, tests and benchmark use. */
export type ToolName = 'temporal' | 'registry' | 'crane' | 'regctl' | 'skopeo';

const ENV_VARIABLE: Record<ToolName, string> = {
  temporal: 'TEMPORAL_CLI',
  registry: 'REGISTRY_BIN',
  crane: 'CRANE_BIN',
  regctl: 'REGCTL_BIN',
  skopeo: 'SKOPEO_BIN',
};

/** Folder that `scripts/install-tools.sh` builds tools into; shared by every clone on the machine. */
export function toolsDir(): string {
  const cache = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  return process.env.PROMOTER_TOOLS_DIR ?? join(cache, 'image-promoter', 'bin');
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds a tool in the order `scripts/install-tools.sh` uses: its environment variable, the tools
 * cache, then PATH. Returns undefined when it is nowhere.
 */
export function findTool(name: ToolName): string | undefined {
  const named = process.env[ENV_VARIABLE[name]];
  if (named) {
    return named;
  }
  const cached = join(toolsDir(), name);
  if (isExecutable(cached)) {
    return cached;
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    if (dir && isExecutable(candidate)) {
      return candidate;
    }
  }
  return undefined;
}

/** Like findTool, but throws an error that says how to install the tool. */
export function requireTool(name: ToolName): string {
  const path = findTool(name);
  if (!path) {
    throw new Error(
      `${name} was not found in $${ENV_VARIABLE[name]}, ${toolsDir()} or PATH; ` +
        `run 'bash scripts/install-tools.sh${name === 'crane' || name === 'regctl' ? ' --bench' : ''}' to build it`,
    );
  }
  return path;
}
