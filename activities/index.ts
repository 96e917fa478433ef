/**
 * The activities: every side effect the workflows ask for. Built by a factory that takes its dependencies, so the
 * worker passes the real registry client and Temporal client, and tests can pass their own.
 */
import type { Client } from '@temporalio/client';
import type { RegistryClient } from '../src/oci/client';
import type { Transport } from '../src/oci/transport';
import { createHookActivities, type HookActivityOptions } from './hooks';
import { createPolicyActivities } from './policy';
import { createRegistryActivities } from './registry';
import { createStageLockActivities } from './stage-lock';
import type { Activities } from './types';

export type * from './types';

export interface ActivityDependencies extends HookActivityOptions {
  /** Registry client with the worker's credentials; they stay in the worker and never reach workflow history. */
  registry: RegistryClient;
  /** Transport with the same options as `registry`, for deleting tags (RegistryClient has no delete). */
  transport?: Transport;
  /** Client of the worker's namespace, used to signal-with-start the stage workflows. */
  client: Client;
}

export function createActivities(dependencies: ActivityDependencies): Activities {
  return {
    ...createRegistryActivities(dependencies.registry, dependencies.transport),
    ...createHookActivities({ hookEnvironment: dependencies.hookEnvironment }),
    ...createStageLockActivities(dependencies.client),
    ...createPolicyActivities({ registry: dependencies.registry, client: dependencies.client }),
  };
}
