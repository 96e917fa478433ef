/**
 * The command-line copy cases: each tool copies the same source image, in turn, run after run, each run into a
 * repository that has never existed. Every copy is checked afterwards by reading the target tag.
 */
import type { BenchImages, SourceImage } from './images';
import type { CopyRunner, CopyTool } from './peers';
import { expectTag } from './registry-check';
import { type ResultSet, rotated } from './results';
import type { LocalRegistry } from '../lib/registry';

/** A copy case: what is copied, to which registry, by which tools. */
export interface CopyCase {
  name: string;
  /** One line for the report. */
  description: string;
  /** Tools in the order of the first run. */
  tools: CopyTool[];
  source: () => Promise<SourceImage>;
  target: LocalRegistry;
}

/** Returns the copy cases. The source images are on registry A, and B is the other registry. */
export function copyCases(images: BenchImages, a: LocalRegistry, b: LocalRegistry): CopyCase[] {
  const peers: CopyTool[] = ['promote', 'promote-baseline', 'crane', 'regctl', 'skopeo'];
  return [
    {
      name: 'cross-5x40',
      description: 'an image of 5 layers of 40 MiB, to another registry',
      tools: [...peers, 'http-stream'],
      source: () => images.fiveByForty(),
      target: b,
    },
    {
      name: 'same-5x40',
      description: 'the same image into a new repository of its own registry (blobs can be mounted)',
      tools: peers,
      source: () => images.fiveByForty(),
      target: a,
    },
    {
      name: 'index-3',
      description: 'an index of 3 platforms, each 2 layers of 10 MiB, to another registry',
      tools: peers,
      source: () => images.threePlatforms(),
      target: b,
    },
    {
      name: 'cross-1g',
      description: 'an image of one 1 GiB layer, to another registry',
      tools: [...peers, 'http-stream'],
      source: () => images.oneGiB(),
      target: b,
    },
  ];
}

/** Runs a copy case `runs` times with every runner, rotating their order, and records each run. */
export async function runCopyCase(
  copyCase: CopyCase,
  runners: CopyRunner[],
  runs: number,
  results: ResultSet,
): Promise<void> {
  const { image, reference: source } = await copyCase.source();
  const targetHost = copyCase.target.host;
  const tools = runners.filter((runner) => copyCase.tools.includes(runner.tool));
  console.log(`${copyCase.name}: ${copyCase.description}; ${image.digest}`);

  for (let run = 0; run < runs; run += 1) {
    const figures: string[] = [];
    for (const runner of rotated(tools, run)) {
      const target = `${targetHost}/${copyCase.name}/run${run}-${runner.tool}:v1`;
      try {
        const measured = await runner.copy(source, target);
        await expectTag(target, image.digest, runner.tool);
        results.addRun(copyCase.name, runner.tool, measured.ms, measured.peakRssMib);
        figures.push(`${runner.tool} ${(measured.ms / 1000).toFixed(3)} s`);
        if (runner.tool === 'promote' || runner.tool === 'promote-baseline') {
          const summary = JSON.parse(measured.stdout) as { bytesUploaded: number };
          results.addDetail(copyCase.name, runner.tool, 'bytes_uploaded', summary.bytesUploaded);
        }
      } catch (error) {
        results.addFailure(copyCase.name, runner.tool, error);
        figures.push(`${runner.tool} failed`);
      }
    }
    console.log(`  run ${run + 1}/${runs}: ${figures.join(', ')}`);
  }
}
