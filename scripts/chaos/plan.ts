/**
 * The seeded plan of a chaos run: the images, which releases fail a hook and where, when releases start, and when
 * workers are killed and the Temporal server restarts. The same seed and options give the same plan, and the
 * expected outcome of every release is known before the run starts.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Pipeline, pipelineSchema } from '../../src/config/schema';
import { type LayerSpec } from '../lib/images';
import { hashToUnit, SeededRandom } from './random';

/** Pipeline name; every release ID of the run starts with `release-chaos-`. */
export const PIPELINE_NAME = 'chaos';
/** Stages in order; the first is the source the releases start from. */
export const TARGET_STAGES = ['test', 'staging', 'prod'] as const;
export const STAGES = ['dev', ...TARGET_STAGES] as const;
export type TargetStage = (typeof TARGET_STAGES)[number];
/** The person the run approves prod as; the pipeline lists it as prod's only approver. */
export const APPROVER = 'chaos-approver';
export const STARTED_BY = 'chaos-run';
export const HOOK_NAME = 'smoke';

/** Share of releases whose hook fails in one of the target stages. */
const HOOK_FAILURE_SHARE = 0.2;
/** Size of the layer every image shares, and of each image's own layer. */
const BASE_LAYER_BYTES = 512 * 1024;
const OWN_LAYER_BYTES = 192 * 1024;

export interface ChaosSettings {
  releases: number;
  faultRate: number;
  kills: number;
  restarts: number;
  seed: number;
  /** Smallest and largest time between two release starts, in milliseconds. */
  startGapMs: [number, number];
}

export interface PlannedRelease {
  index: number;
  /** Source tag in the dev repository, `build-007`; the stages get it as an extra tag. */
  tag: string;
  /** Milliseconds after the first start at which this release starts. */
  startAtMs: number;
}

export type ChaosEvent =
  { kind: 'kill'; atMs: number; worker: number; downMs: number } | { kind: 'restart'; atMs: number; downMs: number };

export interface ChaosPlan {
  releases: PlannedRelease[];
  events: ChaosEvent[];
}

/** Draws the start times and the chaos events; `workers` is the number of worker processes. */
export function drawPlan(settings: ChaosSettings, workers: number): ChaosPlan {
  const random = new SeededRandom(settings.seed);
  const starts = random.fork('starts');
  const releases: PlannedRelease[] = [];
  let at = 0;
  for (let index = 0; index < settings.releases; index += 1) {
    releases.push({ index, tag: `build-${String(index + 1).padStart(3, '0')}`, startAtMs: Math.round(at) });
    at += starts.between(settings.startGapMs[0], settings.startGapMs[1]);
  }

  // Chaos lands while releases start and for a while after, when the last ones are still in flight.
  const window = at + 40_000;
  const chaos = random.fork('events');
  const events: ChaosEvent[] = [];
  for (let kill = 0; kill < settings.kills; kill += 1) {
    events.push({
      kind: 'kill',
      atMs: Math.round(chaos.between(3_000, window)),
      worker: chaos.int(0, workers - 1),
      downMs: Math.round(chaos.between(500, 3_000)),
    });
  }
  for (let restart = 0; restart < settings.restarts; restart += 1) {
    events.push({
      kind: 'restart',
      atMs: Math.round(chaos.between(10_000, window)),
      downMs: Math.round(chaos.between(1_000, 4_000)),
    });
  }
  events.sort((a, b) => a.atMs - b.atMs);
  return { releases, events };
}

/**
 * Returns the layers of release `index`'s image: a layer all images share and a layer of its own, both from the
 * seeded sequence, so the digests are the same on every run with this seed.
 */
export function imageLayers(seed: number, index: number): LayerSpec[] {
  const base = new SeededRandom(seed).fork('base-layer');
  const own = new SeededRandom(seed).fork(`layer-${index}`);
  return [
    { files: [{ path: 'base/data.bin', content: base.bytes(BASE_LAYER_BYTES) }] },
    {
      files: [
        { path: 'app/build.txt', content: `chaos seed ${seed} build ${index + 1}\n` },
        { path: 'app/data.bin', content: own.bytes(OWN_LAYER_BYTES) },
      ],
    },
  ];
}

/**
 * Returns the stage whose hook fails for this digest, or undefined when every hook passes: the seeded rule for
 * hooks. It depends on the digest only, so the outcome is fixed once the image is built.
 */
export function failingStage(seed: number, digest: string): TargetStage | undefined {
  const draw = hashToUnit(seed, digest, 'hook');
  if (draw >= HOOK_FAILURE_SHARE) {
    return undefined;
  }
  return TARGET_STAGES[Math.floor((draw / HOOK_FAILURE_SHARE) * TARGET_STAGES.length)];
}

/**
 * Writes the hook: a shell script that fails for the stage and digest pairs listed in `failures.txt` next to it.
 * Returns the script's path.
 */
export function writeHook(dir: string, failures: { stage: string; digest: string }[]): string {
  const list = join(dir, 'failures.txt');
  writeFileSync(list, failures.map((failure) => `${failure.stage} ${failure.digest}\n`).join(''));
  const script = join(dir, 'hook.sh');
  writeFileSync(
    script,
    [
      '#!/bin/sh',
      '# Fails for the stage and digest pairs the chaos plan lists, passes for every other.',
      `if grep -qxF "$PROMOTE_STAGE $PROMOTE_DIGEST" ${JSON.stringify(list)}; then`,
      '  echo "planned failure of $PROMOTE_DIGEST in $PROMOTE_STAGE"',
      '  exit 1',
      'fi',
      'echo "passed $PROMOTE_DIGEST in $PROMOTE_STAGE"',
      '',
    ].join('\n'),
  );
  chmodSync(script, 0o755);
  return script;
}

/** Registry host (a proxy) and repository path of each stage. */
export type StageLocation = Record<(typeof STAGES)[number], { host: string; repository: string }>;

/**
 * The pipeline: dev → test on one registry (copies there mount), staging → prod on the other (copies upload);
 * every target stage runs the hook and gets the source tag as an extra tag; prod waits for an approval.
 */
export function buildPipeline(locations: StageLocation, hookPath: string): Pipeline {
  const hooks = [{ name: HOOK_NAME, command: [hookPath], timeout: '60s' }];
  return pipelineSchema.parse({
    name: PIPELINE_NAME,
    stages: STAGES.map((stage) => ({
      name: stage,
      repository: `${locations[stage].host}/${locations[stage].repository}`,
      environmentTag: stage,
      ...(stage === 'dev' ? {} : { tags: ['%n'], hooks }),
      ...(stage === 'prod' ? { approval: { approvers: [APPROVER], timeout: '2h' } } : {}),
    })),
  });
}
