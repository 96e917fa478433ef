/** The chaos run's report: the problems found, then a table of what happened, then `N/N releases correct`. */
import { FAULT_KINDS, type FaultKind } from './fault-proxy';
import type { TruthResult } from './truth';

export interface RunFigures {
  seed: number;
  releases: number;
  faultRate: number;
  workers: number;
  kills: number;
  killsPlanned: number;
  restarts: number;
  restartsPlanned: number;
  /** Worker exits the run did not cause: a crash is a defect even when every release ends right. */
  unplannedWorkerExits: string[];
  requests: number;
  faults: Record<FaultKind, number>;
  approvals: number;
  uploadsCommitted: number;
  manifestPuts: number;
  runTimeMs: number;
}

/** Returns the report's lines; the last one is `N/N releases correct`. */
export function formatReport(figures: RunFigures, truth: TruthResult): string[] {
  const lines: string[] = [];
  for (const verdict of truth.verdicts) {
    if (verdict.problems.length === 0) {
      continue;
    }
    const release = verdict.release;
    lines.push(`WRONG ${release.tag} ${release.workflowId} (${verdict.ending}):`);
    lines.push(...verdict.problems.map((problem) => `  - ${problem}`));
  }
  if (truth.unattributed.length > 0) {
    lines.push('Problems that concern no single release:');
    lines.push(...truth.unattributed.map((problem) => `  - ${problem}`));
  }
  if (figures.unplannedWorkerExits.length > 0) {
    lines.push('Workers that exited without being killed (see workers.log in the run folder):');
    lines.push(...figures.unplannedWorkerExits.map((exit) => `  - ${exit}`));
  }
  if (lines.length > 0) {
    lines.push('');
  }

  const endings = new Map<string, number>();
  for (const verdict of truth.verdicts) {
    const planned = verdict.release.expectedFailure;
    let ending = verdict.ending;
    if (ending === 'failed') {
      ending = verdict.problems.length === 0 ? `failed: hook in ${planned}, rolled back` : 'failed: other reason';
    }
    endings.set(ending, (endings.get(ending) ?? 0) + 1);
  }
  const correct = truth.verdicts.filter((verdict) => verdict.problems.length === 0).length;
  const stuck = truth.verdicts.filter((verdict) => verdict.ending === 'stuck').length;
  const wrong = truth.verdicts.length - correct - stuck;
  const totalFaults = FAULT_KINDS.reduce((sum, kind) => sum + figures.faults[kind], 0);
  const plannedFailures = truth.verdicts.filter((verdict) => verdict.release.expectedFailure).length;

  const rows: [string, string][] = [
    ['seed', String(figures.seed)],
    ['run time', formatDuration(figures.runTimeMs)],
    ['releases', `${figures.releases} (${plannedFailures} with a hook planned to fail)`],
    ['workers', String(figures.workers)],
    ['worker kills (SIGKILL)', countOf(figures.kills, figures.killsPlanned)],
    ['Temporal server restarts', countOf(figures.restarts, figures.restartsPlanned)],
    ['unplanned worker exits', String(figures.unplannedWorkerExits.length)],
    ['registry requests', String(figures.requests)],
    ['faults injected', `${totalFaults} (fault rate ${figures.faultRate})`],
    ...FAULT_KINDS.map((kind): [string, string] => [`  ${faultLabel(kind)}`, String(figures.faults[kind])]),
    ['approvals sent', String(figures.approvals)],
    ['uploads committed', String(figures.uploadsCommitted)],
    ['manifests written', String(figures.manifestPuts)],
    ...[...endings.entries()].sort().map(([ending, count]): [string, string] => [`ended ${ending}`, String(count)]),
    ['releases correct', String(correct)],
    ['releases wrong', String(wrong)],
    ['releases stuck', String(stuck)],
  ];
  if (truth.unattributed.length > 0) {
    rows.push(['problems of no single release', String(truth.unattributed.length)]);
  }
  const width = Math.max(...rows.map(([label]) => label.length));
  lines.push(...rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`));
  lines.push(`${correct}/${truth.verdicts.length} releases correct`);
  return lines;
}

/** True when every release is correct and no problem is left unattributed. */
export function allCorrect(truth: TruthResult): boolean {
  return truth.unattributed.length === 0 && truth.verdicts.every((verdict) => verdict.problems.length === 0);
}

function countOf(done: number, planned: number): string {
  return done === planned ? String(done) : `${done} of ${planned} planned (the rest came after every release ended)`;
}

function faultLabel(kind: FaultKind): string {
  switch (kind) {
    case '429':
      return 'HTTP 429 with Retry-After';
    case 'reply-dropped':
      return 'reply dropped after the registry acted';
    case 'cut-blob':
      return 'connection cut mid-blob';
    case 'flipped-byte':
      return 'blob with a flipped byte';
    default:
      return `HTTP ${kind}`;
  }
}

export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
}
