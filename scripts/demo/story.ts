/**
 * The demo's scenario once its stack runs: a good build released through every stage with a person's approval for
 * prod, then a bad build that staging's hook stops, then a manual rollback of test. Every product action goes
 * through the `promote` CLI; the registries are read directly to check the outcome.
 */
import type { Client } from '@temporalio/client';
import type { StartedRelease } from '../../src/temporal/releases';
import type { LedgerEntry, ReleaseStatus, RollbackStatus } from '../../workflows/messages';
import { type AppBuild, buildAndPush } from './app-image';
import { followRelease } from './follow';
import { checkTags, describeFailures, type TagCheck } from './registry-check';
import type { DemoStack } from './stack';
import type { StepLog } from './step-log';

/** The person who starts releases, as CI would, and the person who approves prod. */
export const STARTED_BY = 'ci';
export const APPROVER = 'alice';

/** A release the demo started, as it ended. */
export interface FinishedRelease {
  build: AppBuild;
  started: StartedRelease;
  status: ReleaseStatus;
}

/** Everything the final table and the exit code are made from. */
export interface StoryResult {
  good: FinishedRelease;
  bad: FinishedRelease;
  rollback: RollbackStatus & { runId: string };
  /** Registry checks, each group named by the moment it was made. */
  checks: { moment: string; checks: TagCheck[] }[];
  /** Problems that make the demo fail, in the order they were found. */
  problems: string[];
}

function short(digest: string | undefined | null): string {
  return digest ? `${digest.slice(0, 'sha256:'.length + 12)}…` : 'nothing';
}

export class Story {
  private readonly problems: string[] = [];
  private readonly checks: StoryResult['checks'] = [];

  constructor(
    private readonly root: string,
    private readonly stack: DemoStack,
    private readonly client: Client,
    private readonly log: StepLog,
  ) {}

  async run(): Promise<StoryResult> {
    const run = this.stack.state.runs;
    const good = await this.build(`1.${run}.0`, 'info');
    const goodRelease = await this.release(good, true);
    await this.check('after the first release', [
      { stage: 'dev', tag: good.version, digest: good.digest },
      ...this.targets().map((stage) => ({ stage, tag: undefined, digest: good.digest })),
    ]);

    const bad = await this.build(`1.${run}.1`, 'debug');
    const badRelease = await this.release(bad, false);
    this.expect(
      badRelease.status.state === 'failed',
      `release of ${bad.version} ended ${badRelease.status.state}, expected failed`,
    );
    const staging = badRelease.status.stages.find((stage) => stage.name === 'staging');
    this.expect(
      staging?.state === 'rolled-back',
      `staging ended ${staging?.state ?? 'missing'} in the second release, expected rolled-back`,
    );
    await this.check('after staging rejected the second build', [
      { stage: 'test', tag: undefined, digest: bad.digest },
      { stage: 'staging', tag: undefined, digest: good.digest },
      { stage: 'prod', tag: undefined, digest: good.digest },
    ]);

    const rollback = await this.rollbackTest(bad);
    await this.check(
      'after the rollback of test',
      this.targets().map((stage) => ({ stage, tag: undefined, digest: good.digest })),
    );
    await this.showHistory();
    await this.showList();
    const goodStatus = await this.stack.cli.json<ReleaseStatus>(['status', goodRelease.started.workflowId]);
    return {
      good: { ...goodRelease, status: goodStatus.value },
      bad: badRelease,
      rollback,
      checks: this.checks,
      problems: this.problems,
    };
  }

  private targets(): string[] {
    return this.stack.pipeline.stages.slice(1).map((stage) => stage.name);
  }

  private async build(version: string, logLevel: 'info' | 'debug'): Promise<AppBuild> {
    const source = this.stack.pipeline.stages[0];
    const repository = source.repository.slice(source.repository.indexOf('/') + 1);
    const build = await buildAndPush(this.root, this.stack.registryA, repository, {
      version,
      logLevel,
      buildInfo: `run ${this.stack.state.runs}, built ${new Date().toISOString()} by scripts/demo.ts`,
    });
    const note = logLevel === 'info' ? '' : ' with "logLevel": "debug" left in app/config.json';
    this.log.step(`built ${build.reference} from examples/app${note}: ${build.digest}`);
    return build;
  }

  private async release(build: AppBuild, approve: boolean): Promise<FinishedRelease> {
    const { value: started } = await this.stack.cli.json<StartedRelease>([
      'start',
      '--pipeline',
      this.stack.pipelineFile,
      build.reference,
      '--as',
      STARTED_BY,
    ]);
    this.expect(
      started.digest === build.digest,
      `promote start resolved ${started.digest}, but dev built ${build.digest}`,
    );
    this.log.step(`promote start ${build.reference} --as ${STARTED_BY}: ${started.workflowId}`);

    const reported = new Set<string>();
    let status = await followRelease(this.client, started.workflowId, this.log, 'approval', reported);
    if (status.state === 'awaiting-approval') {
      if (!approve) {
        throw new Error(
          `release ${started.workflowId} waits for approval of ${status.currentStage}, which the demo did not expect`,
        );
      }
      await this.approve(started.workflowId, status.currentStage ?? 'prod');
      status = await followRelease(this.client, started.workflowId, this.log, 'end', reported);
    }
    const reason = status.failure ? `: ${status.failure}` : '';
    this.log.step(`${started.workflowId} ${status.state}${reason}`);
    return { build, started, status };
  }

  private async approve(workflowId: string, stage: string): Promise<void> {
    const args = ['approve', workflowId, '--stage', stage, '--as', APPROVER, '--comment', 'checked staging'];
    const approvers = this.stack.pipeline.stages.find((s) => s.name === stage)?.approval?.approvers.join(' or ');
    this.log.step(
      `${stage} waits for approval by ${approvers}; to approve, a person types: ${this.stack.cli.display(args)}`,
    );
    const run = await this.stack.cli.run(args);
    if (run.code !== 0) {
      throw new Error(`promote approve exited with ${run.code}: ${run.stderr.trim()}`);
    }
    this.log.step(`approved ${stage} as ${APPROVER} with that command (exit 0)`);
  }

  private async rollbackTest(bad: AppBuild): Promise<RollbackStatus & { runId: string }> {
    const reason = `${bad.version} failed staging`;
    const args = [
      'rollback',
      'test',
      '--pipeline',
      this.stack.pipelineFile,
      '--as',
      APPROVER,
      '--reason',
      reason,
      '--wait',
    ];
    const { code, value } = await this.stack.cli.json<RollbackStatus>(args, true);
    this.expect(
      code === 0 && value.state === 'completed',
      `promote rollback test exited ${code}, state ${value.state}: ${value.failure ?? ''}`,
    );
    this.log.step(
      `promote rollback test: ${value.rollbackId} ${value.state}, test back from ${short(value.previousDigest)} to ${short(value.targetDigest)}`,
    );
    const { runId } = await this.client.workflow.getHandle(value.rollbackId).describe();
    return { ...value, runId };
  }

  private async showHistory(): Promise<void> {
    const args = ['history', 'staging', '--pipeline', this.stack.pipelineFile, '--limit', '3'];
    const { value } = await this.stack.cli.json<{ entries: LedgerEntry[] }>(args);
    const entries = value.entries.map((entry) => `${entry.kind} ${short(entry.digest)}`).join(', ');
    this.log.step(`promote history staging: ${entries} (newest last)`);
  }

  private async showList(): Promise<void> {
    const args = ['list', '--kind', 'release', '--pipeline', this.stack.pipelineFile];
    const { value } = await this.stack.cli.json<{ releaseId: string; state: string }[]>(args);
    const counts = new Map<string, number>();
    for (const release of value) {
      counts.set(release.state, (counts.get(release.state) ?? 0) + 1);
    }
    const summary = [...counts].map(([state, count]) => `${count} ${state}`).join(', ');
    this.log.step(
      `promote list: ${value.length} releases of ${this.stack.pipeline.name} in this Temporal database (${summary})`,
    );
  }

  /** Reads the environment tags (or, for the source, the build's tag) from the registries and compares digests. */
  private async check(
    moment: string,
    expectations: { stage: string; tag: string | undefined; digest: string }[],
  ): Promise<void> {
    const references = expectations.map(({ stage, tag, digest }) => {
      const config = this.stack.pipeline.stages.find((s) => s.name === stage)!;
      return { reference: `${config.repository}:${tag ?? config.environmentTag}`, expected: digest };
    });
    const checks = await checkTags(references);
    this.checks.push({ moment, checks });
    const failure = describeFailures(checks);
    if (failure) {
      this.problems.push(`${moment}: ${failure}`);
      this.log.step(`registries disagree ${moment}: ${failure}`);
      return;
    }
    const summary = expectations.map(({ stage, digest }) => `${stage} ${short(digest)}`).join(', ');
    this.log.step(`registries checked ${moment}: ${summary}`);
  }

  private expect(condition: boolean, problem: string): void {
    if (!condition) {
      this.problems.push(problem);
      this.log.step(`problem: ${problem}`);
    }
  }
}
