/** The table the demo ends with: where each stage's environment tag points, and the releases that put it there. */
import type { DemoStack } from './stack';
import type { StoryResult } from './story';

function pad(rows: string[][]): string[] {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column])))
      .join('  ')
      .trimEnd(),
  );
}

/**
 * Builds the table from the last registry check (what the registries hold now) and the statuses of the releases:
 * one row per stage, then one line per workflow with its Temporal UI address.
 */
export function finalTable(stack: DemoStack, result: StoryResult): string[] {
  const { good, bad, rollback } = result;
  const lastCheck = result.checks[result.checks.length - 1].checks;
  const source = stack.pipeline.stages[0];
  const rows = [['stage', 'environment tag', 'digest', 'approved by', 'release']];
  rows.push([source.name, good.build.reference, good.build.digest, '(built here)', good.started.workflowId]);

  for (const stage of stack.pipeline.stages.slice(1)) {
    const reference = `${stage.repository}:${stage.environmentTag}`;
    const current = lastCheck.find((check) => check.reference === reference)?.actual ?? 'nothing';
    const status = good.status.stages.find((s) => s.name === stage.name);
    const approvedBy = stage.approval
      ? (status?.approvals ?? [])
          .filter((approval) => approval.decision === 'approved')
          .map((approval) => approval.person)
          .join(', ') || 'nobody'
      : '(no gate)';
    rows.push([stage.name, reference, current, approvedBy, good.started.workflowId]);
  }

  const workflows = [
    `${good.started.workflowId}  ${good.status.state}  ${stack.uiUrl(good.started.workflowId, good.started.runId)}`,
    `${bad.started.workflowId}  ${bad.status.state}  ${stack.uiUrl(bad.started.workflowId, bad.started.runId)}`,
    `${rollback.rollbackId}  ${rollback.state}  ${stack.uiUrl(rollback.rollbackId, rollback.runId)}`,
  ];
  return ['', ...pad(rows), '', 'Temporal UI of each release:', ...workflows.map((line) => `  ${line}`), ''];
}
