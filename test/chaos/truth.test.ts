/** The chaos run's truth check on small, hand-built worlds: each rule must accept the right end and flag a wrong one. */
import { TARGET_STAGES, type TargetStage } from '../../scripts/chaos/plan';
import { checkTruth, type ReleaseFacts, type StageFacts, type TruthInput } from '../../scripts/chaos/truth';
import type { LedgerEntry, ReleaseState, ReleaseStatus, StageState } from '../../workflows/messages';

const digest = (n: number) => `sha256:${String(n).padStart(64, '0')}`;
const time = (second: number) => new Date(Date.UTC(2025, 0, 1, 0, 0, second)).toISOString();

interface ReleaseSketch {
  n: number;
  startedAt: number;
  state: ReleaseState;
  stages: Record<TargetStage, StageState>;
  expectedFailure?: TargetStage;
  failure?: string;
  /** Second at which each stage finished. */
  finishedAt?: number;
}

function releaseFacts(sketch: ReleaseSketch): ReleaseFacts {
  const status: ReleaseStatus = {
    releaseId: `release-chaos-${sketch.n}`,
    pipeline: 'chaos',
    source: `127.0.0.1:1/chaos/dev:build-00${sketch.n}@${digest(sketch.n)}`,
    digest: digest(sketch.n),
    startedBy: 'chaos-run',
    force: false,
    state: sketch.state,
    currentStep: sketch.state,
    stages: TARGET_STAGES.map((name) => ({
      name,
      repository: `127.0.0.1:1/chaos/${name}`,
      environmentTag: name,
      state: sketch.stages[name],
      tagsMoved: [],
      requiredApprovals: 0,
      approvals: [],
      hooks: [],
      finishedAt: time(sketch.finishedAt ?? 59),
    })),
    refusedApprovals: [],
    startedAt: time(sketch.startedAt),
    finishedAt: time(59),
    failure: sketch.failure,
  };
  return {
    index: sketch.n - 1,
    tag: `build-00${sketch.n}`,
    digest: digest(sketch.n),
    workflowId: `release-chaos-${sketch.n}`,
    expectedFailure: sketch.expectedFailure,
    blobs: [digest(100 + sketch.n)],
    outcome: { kind: 'closed', status },
  };
}

function entry(
  n: number,
  kind: LedgerEntry['kind'],
  previous: number | null,
  environment: number | null,
  at: number,
): LedgerEntry {
  return {
    id: `release-chaos-${n}/${kind}/${at}`,
    kind,
    digest: digest(n),
    environmentDigest: environment === null ? null : digest(environment),
    previousDigest: previous === null ? null : digest(previous),
    workflowId: `release-chaos-${n}`,
    runId: 'run',
    by: 'chaos-run',
    at: time(at),
    releaseStartedAt: Date.parse(time(n)),
    tags: [],
    approvals: [],
    hooks: [],
  };
}

function stage(name: TargetStage, ledger: LedgerEntry[], tags: Record<string, number>): StageFacts {
  return {
    stage: name,
    ledger,
    lock: { queue: [] },
    tags: new Map(Object.entries(tags).map(([tag, n]) => [tag, digest(n)])),
  };
}

const ALL_PROMOTED: Record<TargetStage, StageState> = { test: 'promoted', staging: 'promoted', prod: 'promoted' };

/** Release 1 completed everywhere; each stage's ledger, environment tag and source tag agree. */
function completedWorld(): TruthInput {
  return {
    releases: [releaseFacts({ n: 1, startedAt: 1, state: 'completed', stages: ALL_PROMOTED })],
    stages: TARGET_STAGES.map((name, index) =>
      stage(name, [entry(1, 'promoted', null, 1, 10 + index)], { [name]: 1, 'build-001': 1 }),
    ),
    sourceTags: new Map([['build-001', digest(1)]]),
    manifestPuts: [],
    uploadCommits: [],
  };
}

function problemsOf(input: TruthInput): string[] {
  const result = checkTruth(input);
  return [...result.verdicts.flatMap((verdict) => verdict.problems), ...result.unattributed];
}

test('consistent completed release passes', () => {
  expect(problemsOf(completedWorld())).toEqual([]);
});

test('environment tag off the ledger is flagged', () => {
  const world = completedWorld();
  world.stages[2].tags.set('prod', digest(9));

  const problems = problemsOf(world);

  expect(problems).toContainEqual(expect.stringContaining('prod: environment tag holds'));
  expect(problems).toContainEqual(expect.stringContaining('which no release promoted there'));
});

test('release superseded by a newer one passes', () => {
  const world: TruthInput = {
    releases: [
      releaseFacts({
        n: 1,
        startedAt: 1,
        state: 'superseded',
        stages: { test: 'promoted', staging: 'superseded', prod: 'skipped' },
        finishedAt: 30,
      }),
      releaseFacts({ n: 2, startedAt: 2, state: 'completed', stages: ALL_PROMOTED }),
    ],
    stages: [
      stage('test', [entry(1, 'promoted', null, 1, 10), entry(2, 'promoted', 1, 2, 12)], {
        test: 2,
        'build-001': 1,
        'build-002': 2,
      }),
      stage('staging', [entry(2, 'promoted', null, 2, 20)], { staging: 2, 'build-002': 2 }),
      stage('prod', [entry(2, 'promoted', null, 2, 40)], { prod: 2, 'build-002': 2 }),
    ],
    sourceTags: new Map([
      ['build-001', digest(1)],
      ['build-002', digest(2)],
    ]),
    manifestPuts: [],
    uploadCommits: [],
  };

  expect(problemsOf(world)).toEqual([]);
});

test('superseded without a newer promotion is flagged', () => {
  const world = completedWorld();
  world.releases = [
    releaseFacts({
      n: 1,
      startedAt: 1,
      state: 'superseded',
      stages: { test: 'promoted', staging: 'superseded', prod: 'skipped' },
    }),
  ];
  world.stages = [
    stage('test', [entry(1, 'promoted', null, 1, 10)], { test: 1, 'build-001': 1 }),
    stage('staging', [], {}),
    stage('prod', [], {}),
  ];

  expect(problemsOf(world)).toEqual([
    'staging: superseded, but the ledger has no promotion of a newer release before 2025-01-01T00:00:59.000Z',
  ]);
});

test('failed hook without a rollback entry is flagged', () => {
  const world = completedWorld();
  world.releases = [
    releaseFacts({
      n: 1,
      startedAt: 1,
      state: 'failed',
      stages: { test: 'promoted', staging: 'rolled-back', prod: 'skipped' },
      expectedFailure: 'staging',
      failure: 'stage staging: hook smoke failed (exit code 1)',
    }),
  ];
  world.stages = [
    stage('test', [entry(1, 'promoted', null, 1, 10)], { test: 1, 'build-001': 1 }),
    stage('staging', [], {}),
    stage('prod', [], {}),
  ];

  expect(problemsOf(world)).toEqual(['staging: ledger has no entry, expected one rolled-back entry']);
});

test('promotion of an older build after a newer one is flagged', () => {
  const world = completedWorld();
  world.releases.push(releaseFacts({ n: 2, startedAt: 2, state: 'completed', stages: ALL_PROMOTED }));
  world.sourceTags.set('build-002', digest(2));
  world.stages = TARGET_STAGES.map((name, index) =>
    stage(name, [entry(2, 'promoted', null, 2, 10 + index), entry(1, 'promoted', 2, 1, 20 + index)], {
      [name]: 1,
      'build-001': 1,
      'build-002': 2,
    }),
  );

  const verdicts = checkTruth(world).verdicts;

  expect(verdicts[0].problems).toContainEqual(expect.stringContaining('moved back to an older build'));
  expect(verdicts[1].problems).toEqual([]);
});

test('upload committed with a wrong digest is flagged', () => {
  const world = completedWorld();
  world.uploadCommits.push({
    proxy: 'registry-b',
    repository: 'chaos/prod',
    claimedDigest: digest(101),
    bodyDigest: digest(999),
    bytes: 10,
    bodyComplete: true,
    forwarded: true,
    status: 201,
  });

  expect(problemsOf(world)).toEqual([
    `upload to registry-b/chaos/prod committed as ${digest(101)}, but its bytes hash to ${digest(999)}`,
  ]);
});
