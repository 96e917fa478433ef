import type { Client } from '@temporalio/client';
import { releaseWorkflowId } from '../../src/temporal/ids';

/** Counts the executions of a release workflow ID. Visibility lags a start by about a second, so wait for a first one. */
export async function countReleases(client: Client, pipeline: string, digest: string): Promise<number> {
  const executions = client.workflow.list({ query: `WorkflowId = '${releaseWorkflowId(pipeline, digest)}'` });
  let count = 0;
  for await (const execution of executions) {
    if (execution.type === 'releaseWorkflow') {
      count += 1;
    }
  }
  return count;
}
