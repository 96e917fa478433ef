/**
 * Every command README.md shows is run by a test or by the demo. Each `promote` command is matched with a call in
 * the tests or in scripts/demo that has the same subcommand and every flag the README uses. The other commands are
 * run here, or are found where CI or the demo test runs them. The README's pipeline, profile and GitHub Actions examples are
 * parsed as the code parses them.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { freePort, waitUntil } from '../scripts/lib/ports';
import { requireTool } from '../scripts/lib/tools';
import { parsePipelineYaml } from '../src/config/load';
import { resolveTemporalSettings } from '../src/temporal/client';
import { SEARCH_ATTRIBUTES } from '../src/temporal/search-attributes';

const ROOT = join(__dirname, '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const SUBCOMMANDS = ['copy', 'start', 'approve', 'reject', 'status', 'list', 'history', 'rollback', 'worker'];

interface CodeBlock {
  language: string;
  text: string;
}

/** A `promote` call: its subcommand and the flags it passes. */
interface Invocation {
  subcommand: string;
  flags: string[];
  where: string;
}

function codeBlocks(markdown: string): CodeBlock[] {
  return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((match) => ({
    language: match[1],
    text: match[2],
  }));
}

/** Splits a command line into words the way a POSIX shell treats quotes; expansions such as `$(…)` stay as written. */
function shellWords(command: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (let i = 0; i < command.length; i++) {
    const char = command[i];
    if (quote !== undefined) {
      if (char === quote) {
        quote = undefined;
      } else if (char === '\\' && quote === '"' && i + 1 < command.length) {
        word += command[++i];
      } else {
        word += char;
      }
    } else if (char === "'" || char === '"') {
      quote = char;
      word ??= '';
    } else if (/\s/.test(char)) {
      if (word !== undefined) {
        words.push(word);
        word = undefined;
      }
    } else {
      word = (word ?? '') + char;
    }
  }
  if (word !== undefined) {
    words.push(word);
  }
  return words;
}

/** Returns the commands of a shell block: continuation lines joined, comments dropped, `&&` lists split. */
function shellCommands(text: string): string[] {
  return text
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((line) => line.replace(/(^|\s)#.*$/, '').trim())
    .filter((line) => line !== '')
    .flatMap((line) => line.split('&&').map((part) => part.trim()));
}

/** Returns the `run:` commands of the GitHub Actions workflows in yaml blocks. */
function actionsCommands(blocks: CodeBlock[]): string[] {
  const workflows = blocks
    .filter((block) => block.language === 'yaml' && /^jobs:/m.test(block.text))
    .map((block) => parse(block.text) as { jobs: Record<string, { steps: { run?: string }[] }> });
  return workflows.flatMap((workflow) =>
    Object.values(workflow.jobs).flatMap((job) =>
      job.steps.flatMap((step) => (step.run ? shellCommands(step.run) : [])),
    ),
  );
}

function readmeCommands(): string[] {
  const blocks = codeBlocks(README);
  const shell = blocks.filter((block) => ['sh', 'bash', 'shell'].includes(block.language));
  return [...shell.flatMap((block) => shellCommands(block.text)), ...actionsCommands(blocks)];
}

/** Reads a README command as a `promote` call, or returns undefined for any other program. */
function asPromote(command: string): Invocation | undefined {
  const words = shellWords(command);
  while (words.length > 0 && /^[A-Z_][A-Z0-9_]*=/.test(words[0])) {
    words.shift();
  }
  let rest: string[];
  if (words[0] === 'promote') {
    rest = words.slice(1);
  } else if (words.slice(0, 5).join(' ') === 'npm run -s promote --') {
    rest = words.slice(5);
  } else {
    return undefined;
  }
  // Words after a pipe belong to the next program (`… --json | jq …`).
  const pipe = rest.indexOf('|');
  if (pipe >= 0) {
    rest = rest.slice(0, pipe);
  }
  const flags = rest.filter((word) => word.startsWith('--')).map((flag) => flag.split('=')[0]);
  return { subcommand: rest[0], flags, where: 'README.md' };
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      return sourceFiles(path);
    }
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Returns the index of the bracket or parenthesis that encloses `index`. */
function enclosingOpen(text: string, index: number): number {
  let depth = 0;
  for (let i = index - 1; i >= 0; i--) {
    if (text[i] === ')' || text[i] === ']') {
      depth++;
    } else if (text[i] === '(' || text[i] === '[') {
      if (depth === 0) {
        return i;
      }
      depth--;
    }
  }
  return -1;
}

function matchingClose(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '(' || text[i] === '[') {
      depth++;
    } else if (text[i] === ')' || text[i] === ']') {
      depth--;
      if (depth === 0) {
        return i;
      }
    }
  }
  return text.length;
}

/**
 * Finds the `promote` calls in the tests and the demo: each subcommand name written as a string literal, with the
 * flag literals in the same argument list or array (`promote(env, 'approve', id, '--as', 'alice')`,
 * `['rollback', 'test', '--pipeline', file]`).
 */
function sourceInvocations(): Invocation[] {
  const files = [...sourceFiles(join(ROOT, 'test')), ...sourceFiles(join(ROOT, 'scripts', 'demo'))].filter(
    (file) => !file.endsWith('readme.test.ts'),
  );
  const invocations: Invocation[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/'([a-z]+)'/g)) {
      if (!SUBCOMMANDS.includes(match[1])) {
        continue;
      }
      const open = enclosingOpen(text, match.index);
      const group = text.slice(open, matchingClose(text, open));
      if (
        !group
          .slice(1)
          .trimStart()
          .replace(/^\w+,\s*/, '')
          .startsWith(match[0])
      ) {
        // Only calls and arrays that begin with the subcommand (after an environment argument) are invocations.
        continue;
      }
      const flags = [...group.matchAll(/'(--[a-z][a-z-]*)'/g)].map((flag) => flag[1]);
      // Helpers named like `promoteJson(…)` or `cli.json(…)` add --json to the arguments they are given.
      if (/json(<[^()]*>)?\(\[?$/i.test(text.slice(Math.max(0, open - 200), open + 1))) {
        flags.push('--json');
      }
      invocations.push({ subcommand: match[1], flags, where: file.slice(ROOT.length + 1) });
    }
  }
  return invocations;
}

function covers(candidate: Invocation, shown: Invocation): boolean {
  return candidate.subcommand === shown.subcommand && shown.flags.every((flag) => candidate.flags.includes(flag));
}

function run(program: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(program, args, (error, stdout, stderr) => {
      let code = 0;
      if (error !== null) {
        code = typeof error.code === 'number' ? error.code : -1;
      }
      resolve({ code, output: stdout + stderr });
    });
  });
}

test('first screen shows the two commands', () => {
  const [demo, tests] = codeBlocks(README).map((block) => shellCommands(block.text));
  expect(demo).toEqual(['npm ci', 'npm run demo']);
  expect(tests).toEqual(['npm ci', 'npm test']);
  expect(README.indexOf('npm run demo')).toBeLessThan(README.indexOf('## '));
});

test('promote commands are all run', () => {
  const shown = readmeCommands()
    .map(asPromote)
    .filter((invocation) => invocation !== undefined);
  expect(new Set(shown.map((invocation) => invocation.subcommand))).toEqual(new Set(SUBCOMMANDS));
  const sources = sourceInvocations();
  const notRun = shown.filter((invocation) => !sources.some((candidate) => covers(candidate, invocation)));
  expect(notRun).toEqual([]);
});

test('other commands are all run', () => {
  const ci = readFileSync(join(ROOT, '.ci', 'run'), 'utf8');
  const demoTest = readFileSync(join(ROOT, 'test', 'demo', 'demo.test.ts'), 'utf8');
  const others = readmeCommands().filter((command) => asPromote(command) === undefined);
  const runWhere: Record<string, boolean> = {
    'npm ci': /^npm ci\b/m.test(ci),
    'npm test': /^npm test\b/m.test(ci),
    'npm run demo -- --keep': demoTest.includes("runDemo(['--keep'])"),
    'npm run demo -- --stop': demoTest.includes("runDemo(['--stop'])"),
    'npm run demo': demoTest.includes("spawn('npm', ['run', 'demo'"),
    // Run by the next test.
    'temporal operator search-attribute create': true,
  };
  for (const command of others) {
    const known = Object.keys(runWhere).find((prefix) => command.startsWith(prefix));
    expect({ command, known }).toEqual({ command, known: expect.any(String) as string });
    expect({ command, run: runWhere[known!] }).toEqual({ command, run: true });
  }
});

test('search attribute command registers every attribute', async () => {
  const command = readmeCommands().find((line) => line.startsWith('temporal operator search-attribute create'));
  expect(command).toBeDefined();
  const temporal = requireTool('temporal');
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const ports = [String(await freePort()), String(await freePort())];
  const server = spawn(
    temporal,
    [
      'server',
      'start-dev',
      '--headless',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--log-level',
      'error',
      '--http-port',
      ports[0],
      '--metrics-port',
      ports[1],
    ],
    { stdio: 'ignore' },
  );
  try {
    await waitUntil(
      'the Temporal dev server',
      async () => (await run(temporal, ['operator', 'cluster', 'health', '--address', address])).code === 0,
    );
    const created = await run(temporal, [...shellWords(command!).slice(1), '--address', address]);
    expect(created.output).not.toMatch(/error/i);
    expect(created.code).toBe(0);
    const listed = await run(temporal, [
      'operator',
      'search-attribute',
      'list',
      '--namespace',
      'default',
      '--address',
      address,
    ]);
    for (const attribute of SEARCH_ATTRIBUTES) {
      expect(listed.output).toMatch(new RegExp(`${attribute.name}\\s+Keyword`));
    }
  } finally {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
}, 60_000);

test('pipeline example is a valid pipeline', () => {
  const pipelines = codeBlocks(README).filter(
    (block) => block.language === 'yaml' && /^name:.*\n[\s\S]*^stages:/m.test(block.text),
  );
  expect(pipelines).toHaveLength(1);
  const pipeline = parsePipelineYaml(pipelines[0].text, 'README.md');
  expect(pipeline.stages.map((stage) => stage.name)).toEqual(['dev', 'test', 'staging', 'prod']);
  expect(pipeline.stages[3].approval?.approvers).toEqual(['alice', 'bob']);
});

test('triggers example loads into a pipeline', () => {
  const blocks = codeBlocks(README).filter((block) => block.language === 'yaml');
  const rules = blocks.find((block) => /^triggers:/m.test(block.text));
  const full = blocks.find((block) => /^name:.*\n[\s\S]*^stages:/m.test(block.text));
  expect(rules).toBeDefined();
  const snippet = parse(rules!.text) as { triggers: unknown[]; stages: { name: string; when?: unknown }[] };
  const pipeline = parse(full!.text) as { stages: { name: string; when?: unknown }[] };
  pipeline.stages.find((stage) => stage.name === 'prod')!.when = snippet.stages.find((s) => s.name === 'prod')?.when;
  const loaded = parsePipelineYaml(stringify({ ...pipeline, triggers: snippet.triggers }), 'README.md');
  expect(loaded.triggers).toHaveLength(1);
  expect(loaded.stages[3].when).toBeDefined();
});

test('profile example loads as a profile', () => {
  const [toml] = codeBlocks(README).filter((block) => block.language === 'toml');
  const file = join(mkdtempSync(join(tmpdir(), 'promote-readme-')), 'temporal.toml');
  writeFileSync(file, toml.text);
  const settings = resolveTemporalSettings({ profile: 'cloud' }, { TEMPORAL_CONFIG_FILE: file });
  expect(settings.address).toBe('my-ns.a1b2c.tmprl.cloud:7233');
  expect(settings.namespace).toBe('my-ns.a1b2c');
  expect(settings.apiKey).toBeDefined();
  expect(settings.tls).toBeTruthy();
});

test('GitHub Actions job starts a release', () => {
  const promoteRuns = actionsCommands(codeBlocks(README)).map(asPromote);
  expect(promoteRuns.map((invocation) => invocation?.subcommand)).toContain('start');
});
