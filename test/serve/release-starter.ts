import type { Client } from '@temporalio/client';
import type { ReleaseStarter } from '../../src/serve/push';
import { releaseWorkflowId } from '../../src/temporal/ids';

/**
 * Returns a starter that starts the release workflow by its ID with the product's ID policies, on a task
 * queue no worker polls: tests count the executions started, not what they do.
 */
export function idleReleaseStarter(client: () => Client, taskQueue: string): ReleaseStarter {
  return async (input) => {
    const digest = input.source.slice(input.source.indexOf('@') + 1);
    const workflowId = releaseWorkflowId(input.pipeline.name, digest);
    const existing = await client()
      .workflow.getHandle(workflowId)
      .describe()
      .then(() => true)
      .catch(() => false);
    await client().workflow.start('releaseWorkflow', {
      taskQueue,
      workflowId,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    });
    return { workflowId, existing };
  };
}

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
