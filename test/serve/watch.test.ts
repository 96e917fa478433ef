import { Client, type Connection } from '@temporalio/client';
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { pushImage } from '../../scripts/lib/images';
import { waitUntil } from '../../scripts/lib/ports';
import { type LocalRegistry, startRegistry } from '../../scripts/lib/registry';
import { type LocalTemporalServer, startTemporalServer } from '../../scripts/lib/temporal-server';
import { createWatchActivities } from '../../activities/watch';
import { parsePipelineYaml } from '../../src/config/load';
import type { Pipeline } from '../../src/config/schema';
import { RegistryClient } from '../../src/oci/client';
import {
  WATCH_WORKFLOW_TYPE,
  type WatchInput,
  watchStatusQuery,
  watchStopSignal,
  watchWorkflowId,
} from '../../workflows/watch-messages';
import { releaseStarter } from '../../activities/policy';
import { countReleases } from './release-starter';
import { connectTemporal } from '../helpers/temporal';

const TASK_QUEUE = 'policy-watch-test';

let temporal: LocalTemporalServer;
let connection: Connection;
let client: Client;
let workerConnection: NativeConnection;
let registry: LocalRegistry;
let bundle: WorkflowBundleWithSourceMap;
const registryClient = new RegistryClient();

function pipelineFor(name: string): Pipeline {
  return parsePipelineYaml(`
name: ${name}
stages:
  - name: dev
    repository: ${registry.host}/${name}/dev
    environmentTag: dev
  - name: prod
    repository: ${registry.host}/${name}/prod
    environmentTag: prod
triggers:
  - tag: { matches: '^v[0-9]+\\.[0-9]+\\.[0-9]+$' }
`);
}

async function runWorker(): Promise<{ stop(): Promise<void> }> {
  const worker = await Worker.create({
    connection: workerConnection,
    taskQueue: TASK_QUEUE,
    workflowBundle: bundle,
    activities: createWatchActivities({
      registry: registryClient,
      startRelease: releaseStarter(client, registryClient, 'policy-watch-releases'),
    }),
  });
  const running = worker.run();
  return {
    async stop() {
      worker.shutdown();
      await running;
    },
  };
}

async function pushTagged(name: string, tag: string, content: string): Promise<string> {
  const image = await pushImage(registry, `${name}/dev`, { layers: [{ files: [{ path: 'f', content }] }] }, tag);
  return image.digest;
}

async function startWatcher(pipeline: Pipeline, extra: Partial<WatchInput> = {}) {
  return client.workflow.start(WATCH_WORKFLOW_TYPE, {
    taskQueue: TASK_QUEUE,
    workflowId: watchWorkflowId(pipeline.name),
    args: [{ pipeline, intervalMs: 300, ...extra } satisfies WatchInput],
  });
}

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  [temporal, registry, bundle] = await Promise.all([
    startTemporalServer(),
    startRegistry(),
    bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows/watch'), logger: new DefaultLogger('WARN') }),
  ]);
  connection = await connectTemporal(temporal.address);
  client = new Client({ connection });
  workerConnection = await NativeConnection.connect({ address: temporal.address });
}, 60_000);

afterAll(async () => {
  await workerConnection?.close();
  await connection?.close();
  await registryClient.close();
  await Promise.all([temporal?.stop(), registry?.stop()]);
});

describe('watcher workflow', () => {
  it('releases a push made while no worker ran', async () => {
    const pipeline = pipelineFor('offline');
    const before = await pushTagged('offline', 'v0.9.0', 'existing');
    let worker = await runWorker();
    const watcher = await startWatcher(pipeline);
    await waitUntil('first poll', async () => (await watcher.query(watchStatusQuery)).polls >= 1);

    const seen = await pushTagged('offline', 'v1.0.0', 'seen');
    await waitUntil('release of v1.0.0', async () => (await countReleases(client, 'offline', seen)) === 1);
    await worker.stop();

    const missed = await pushTagged('offline', 'v1.1.0', 'missed');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await countReleases(client, 'offline', missed)).toBe(0);

    worker = await runWorker();
    try {
      await waitUntil('release of v1.1.0', async () => (await countReleases(client, 'offline', missed)) === 1);
      const status = await watcher.query(watchStatusQuery);
      expect(status.recentStarts.map((start) => start.tag)).toEqual(['v1.0.0', 'v1.1.0']);
      expect(status.releasesStarted).toBe(2);
      // Tags present when the watcher started are recorded, not released.
      expect(await countReleases(client, 'offline', before)).toBe(0);
    } finally {
      await watcher.signal(watchStopSignal, { reason: 'test done' });
      await watcher.result();
      await worker.stop();
    }
  });

  it('ignores unmatched tags and releases moved ones', async () => {
    const pipeline = pipelineFor('moves');
    const worker = await runWorker();
    const watcher = await startWatcher(pipeline, { releaseExisting: true });
    try {
      await waitUntil('first poll', async () => (await watcher.query(watchStatusQuery)).polls >= 1);
      const dev = await pushTagged('moves', 'dev-7', 'dev build');
      const first = await pushTagged('moves', 'v2.0.0', 'first build');
      const moved = await pushTagged('moves', 'v2.0.0', 'rebuilt');
      await waitUntil('release of the moved tag', async () => (await countReleases(client, 'moves', moved)) === 1);

      const status = await watcher.query(watchStatusQuery);
      expect(status.knownTags).toBe(1);
      expect(await countReleases(client, 'moves', dev)).toBe(0);
      // The first v2.0.0 may or may not have been seen before it moved; either way at most one release each.
      expect(await countReleases(client, 'moves', first)).toBeLessThanOrEqual(1);
    } finally {
      await watcher.signal(watchStopSignal, {});
      await watcher.result();
      await worker.stop();
    }
  });

  it('continues as new and keeps its state', async () => {
    const pipeline = pipelineFor('long');
    await pushTagged('long', 'v1.0.0', 'one');
    const worker = await runWorker();
    const watcher = await startWatcher(pipeline, { maxHistoryEvents: 20 });
    try {
      await waitUntil('several runs', async () => {
        const description = await client.workflow.getHandle(watchWorkflowId('long')).describe();
        return description.runId !== watcher.firstExecutionRunId;
      });
      const late = await pushTagged('long', 'v1.1.0', 'two');
      await waitUntil('release after continue-as-new', async () => (await countReleases(client, 'long', late)) === 1);

      // The poll that started the release records the tag when its activity returns, a moment after the start.
      const handle = client.workflow.getHandle(watchWorkflowId('long'));
      await waitUntil('both tags known', async () => (await handle.query(watchStatusQuery)).knownTags === 2);
      const status = await handle.query(watchStatusQuery);
      expect(status.polls).toBeGreaterThan(2);
      expect(status.knownTags).toBe(2);
    } finally {
      await client.workflow.getHandle(watchWorkflowId('long')).signal(watchStopSignal, {});
      await worker.stop();
    }
  });
});
