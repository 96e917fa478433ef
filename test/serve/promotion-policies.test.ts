/**
 * Promotion policies end to end: a real Distribution registry notifies `promote serve`, which starts
 * releases on a real Temporal dev server; a real worker runs them, evaluates `when` rules, and sends
 * signed events to a webhook receiver on loopback.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pushImage, pushManifest } from '../../scripts/lib/images';
import { freePort, waitUntil } from '../../scripts/lib/ports';
import { type LocalRegistry, startRegistry } from '../../scripts/lib/registry';
import { releaseStarter } from '../../activities/policy';
import { readWorkflowStatus, formatWorkflowStatus } from '../../src/cli/status-view';
import { parsePipelineYaml } from '../../src/config/load';
import type { Pipeline } from '../../src/config/schema';
import { SIGNATURE_HEADER, verifyWebhookSignature } from '../../src/events/signature';
import type { ReleaseEvent } from '../../src/events/types';
import { RegistryClient } from '../../src/oci/client';
import { Reference } from '../../src/oci/reference';
import type { Logger } from '../../src/serve/log';
import { NOTIFICATIONS_PATH, type NotificationServer, startNotificationServer } from '../../src/serve/server';
import { releaseWorkflowId } from '../../src/temporal/ids';
import type { ReleaseStatus } from '../../workflows/messages';
import {
  WATCH_WORKFLOW_TYPE,
  type WatchStatus,
  watchStatusQuery,
  watchStopSignal,
  watchWorkflowId,
} from '../../workflows/watch-messages';
import { tagDigest } from '../helpers/pipelines';
import {
  isFinished,
  type RunningWorker,
  runWorker,
  startTemporalTestEnvironment,
  type TemporalTestEnvironment,
  waitForRelease,
} from '../helpers/temporal';
import { countReleases } from './release-starter';

const TASK_QUEUE = 'policy-e2e';
const NOTIFY_SECRET = 'registry-to-serve-secret';
const WEBHOOK_SECRET_ENV = 'PROMOTE_E2E_WEBHOOK_SECRET';
const WEBHOOK_SECRET = 'webhook-secret-for-e2e';
jest.setTimeout(120_000);

let environment: TemporalTestEnvironment;
let registry: LocalRegistry;
let worker: RunningWorker;
let serve: NotificationServer;
let receiver: Server;
let pipeline: Pipeline;
const registryClient = new RegistryClient();
const received: { body: string; signature: string | undefined; event: ReleaseEvent }[] = [];
const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

function pipelineYaml(name: string, registryHost: string, webhookUrl: string): string {
  return `
name: ${name}
stages:
  - name: dev
    repository: ${registryHost}/${name}/dev
    environmentTag: dev
  - name: staging
    repository: ${registryHost}/${name}/staging
    environmentTag: staging
  - name: prod
    repository: ${registryHost}/${name}/prod
    environmentTag: prod
    when:
      name: final releases only
      tag: { matches: '^v[0-9]+\\.[0-9]+\\.[0-9]+$' }
triggers:
  - name: versions and candidates
    tag: { matches: '^v[0-9]+\\.[0-9]+\\.[0-9]+(-rc[0-9]+)?$' }
events:
  url: ${webhookUrl}
  secretEnv: ${WEBHOOK_SECRET_ENV}
`;
}

async function startReceiver(): Promise<string> {
  receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const signature = request.headers[SIGNATURE_HEADER] as string | undefined;
      received.push({ body, signature, event: JSON.parse(body) as ReleaseEvent });
      response.statusCode = 204;
      response.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`;
}

function eventsOf(releaseId: string): ReleaseEvent[] {
  return received.filter((entry) => entry.event.releaseId === releaseId).map((entry) => entry.event);
}

async function finalStatus(workflowId: string): Promise<ReleaseStatus> {
  await waitUntil(
    'release to start',
    async () => (await countReleases(environment.client, pipeline.name, digestOf(workflowId))) > 0,
  );
  return waitForRelease(environment.client, workflowId, isFinished, `${workflowId} to finish`, 60_000);
}

function digestOf(workflowId: string): string {
  return `sha256:${workflowId.slice(workflowId.lastIndexOf('-') + 1)}`;
}

async function pushSource(
  tag: string | undefined,
  content: string,
): Promise<{ digest: string; bytes: Buffer; mediaType: string }> {
  return pushImage(registry, 'shop/dev', { layers: [{ files: [{ path: 'build', content }] }] }, tag);
}

beforeAll(async () => {
  process.env[WEBHOOK_SECRET_ENV] = WEBHOOK_SECRET;
  const [env, webhookUrl, registryPort] = await Promise.all([
    startTemporalTestEnvironment(),
    startReceiver(),
    freePort(),
  ]);
  environment = env;
  pipeline = parsePipelineYaml(pipelineYaml('shop', `127.0.0.1:${registryPort}`, webhookUrl));
  serve = await startNotificationServer({
    host: '127.0.0.1',
    port: 0,
    pipelines: [pipeline],
    secret: NOTIFY_SECRET,
    logger: quiet,
    push: { registry: registryClient, startRelease: releaseStarter(environment.client, registryClient, TASK_QUEUE) },
  });
  registry = await startRegistry({
    port: registryPort,
    notifications: [
      { name: 'promote', url: `${serve.url}${NOTIFICATIONS_PATH}`, headers: { Authorization: [NOTIFY_SECRET] } },
    ],
  });
  worker = await runWorker(environment, { taskQueue: TASK_QUEUE });
});

afterAll(async () => {
  await worker?.stop();
  await registry?.stop();
  await serve?.close();
  await registryClient.close();
  await new Promise((resolve) => receiver?.close(resolve));
  await environment?.stop();
  delete process.env[WEBHOOK_SECRET_ENV];
});

describe('promotion policies', () => {
  it('releases a matching push once, whatever its tags', async () => {
    const release = await pushSource('v1.2.3', 'release 1.2.3');
    await pushManifest(registry, 'shop/dev', release.bytes, release.mediaType, 'latest');
    const development = await pushSource('dev-7', 'dev build 7');

    const workflowId = releaseWorkflowId('shop', release.digest);
    const status = await finalStatus(workflowId);
    expect(status.state).toBe('completed');
    expect(status.source).toBe(`${registry.host}/shop/dev:v1.2.3@${release.digest}`);
    expect(status.startedBy).toBe('policy triggers[0] (notification)');
    expect(await tagDigest(registry.url, 'shop/prod', 'prod')).toBe(release.digest);
    expect(await countReleases(environment.client, 'shop', release.digest)).toBe(1);
    expect(await countReleases(environment.client, 'shop', development.digest)).toBe(0);
  });

  it('stops a release candidate before prod and says why', async () => {
    const candidate = await pushSource('v1.3.0-rc1', 'candidate 1.3.0-rc1');
    const workflowId = releaseWorkflowId('shop', candidate.digest);

    const status = await finalStatus(workflowId);
    expect(status.state).toBe('completed');
    expect(status.stages.map((stage) => [stage.name, stage.state])).toEqual([
      ['staging', 'promoted'],
      ['prod', 'skipped'],
    ]);
    const reason =
      'not entered: stages[2].when (final releases only) does not hold: ' +
      'stages[2].when.tag: tag "v1.3.0-rc1" does not match /^v[0-9]+\\.[0-9]+\\.[0-9]+$/';
    expect(status.stages[1].stoppedBy).toBe(reason);
    expect(status.stages[1].failure).toBeUndefined();
    expect(await tagDigest(registry.url, 'shop/staging', 'staging')).toBe(candidate.digest);
    expect(await tagDigest(registry.url, 'shop/prod', 'prod')).not.toBe(candidate.digest);

    // What `promote status` prints for the release.
    const text = formatWorkflowStatus(await readWorkflowStatus(environment.client, workflowId));
    expect(text).toContain(`prod skipped  ${reason}`);
    expect(text).not.toContain('prod failure');
  });

  it('sends signed events in order', async () => {
    const first = releaseWorkflowId('shop', (await registryClient.resolve(refOf('v1.2.3'))).digest);
    const candidate = releaseWorkflowId('shop', (await registryClient.resolve(refOf('v1.3.0-rc1'))).digest);
    await waitUntil('events of both releases', () =>
      Promise.resolve(eventsOf(first).length >= 4 && eventsOf(candidate).length >= 3),
    );

    expect(eventsOf(first).map((event) => [event.sequence, event.kind, event.stage])).toEqual([
      [1, 'release.started', undefined],
      [2, 'stage.promoted', 'staging'],
      [3, 'stage.promoted', 'prod'],
      [4, 'release.completed', undefined],
    ]);
    expect(eventsOf(candidate).map((event) => [event.sequence, event.kind, event.stage])).toEqual([
      [1, 'release.started', undefined],
      [2, 'stage.promoted', 'staging'],
      [3, 'release.completed', 'prod'],
    ]);
    expect(eventsOf(candidate)[2].detail?.stoppedBy).toContain('stages[2].when');
    for (const { body, signature, event } of received) {
      expect(verifyWebhookSignature(body, signature, WEBHOOK_SECRET)).toBe(true);
      expect(event.pipeline).toBe('shop');
      expect(event.digest).toBe(digestOf(event.releaseId));
    }
  });

  it('rejects a notification without the secret and starts nothing', async () => {
    const image = await pushSource(undefined, 'unannounced');
    const body = JSON.stringify({
      events: [
        {
          action: 'push',
          target: { mediaType: image.mediaType, digest: image.digest, repository: 'shop/dev', tag: 'v9.0.0' },
        },
      ],
    });
    const response = await fetch(`${serve.url}${NOTIFICATIONS_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.docker.distribution.events.v1+json' },
      body,
    });
    expect(response.status).toBe(401);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await countReleases(environment.client, 'shop', image.digest)).toBe(0);
  });

  it('starts one release for a push seen by notification and polling', async () => {
    const watcher = await environment.client.workflow.start(WATCH_WORKFLOW_TYPE, {
      taskQueue: TASK_QUEUE,
      workflowId: watchWorkflowId('shop'),
      args: [{ pipeline, intervalMs: 300 }],
    });
    try {
      await waitUntil('first poll', async () => (await watcher.query(watchStatusQuery)).polls >= 1);
      const image = await pushSource('v5.0.0', 'seen twice');
      const workflowId = releaseWorkflowId('shop', image.digest);
      const status = await finalStatus(workflowId);
      expect(status.state).toBe('completed');

      // Wait until the watcher has polled since the push, so both ways have handled it.
      const polls = (await watcher.query(watchStatusQuery)).polls;
      await waitUntil('two more polls', async () => (await watcher.query(watchStatusQuery)).polls >= polls + 2);
      expect(await countReleases(environment.client, 'shop', image.digest)).toBe(1);
      const watched = await watcher.query(watchStatusQuery);
      expect(watched.knownTags).toBeGreaterThanOrEqual(1);
      expect(watched.lastError).toBeUndefined();
    } finally {
      await watcher.signal(watchStopSignal, {});
      await watcher.result();
    }
  });

  it('polling releases a push made while the worker was stopped', async () => {
    const polled = parsePipelineYaml(
      pipelineYaml('polled', registry.host, 'http://127.0.0.1:9/unused').replace(/events:[\s\S]*$/, ''),
    );
    const watcher = await environment.client.workflow.start(WATCH_WORKFLOW_TYPE, {
      taskQueue: TASK_QUEUE,
      workflowId: watchWorkflowId('polled'),
      args: [{ pipeline: polled, intervalMs: 500 }],
    });
    await waitUntil('first poll', async () => (await watcher.query(watchStatusQuery)).polls >= 1);

    await worker.stop();
    const image = await pushImage(
      registry,
      'polled/dev',
      { layers: [{ files: [{ path: 'p', content: 'polled' }] }] },
      'v2.0.0',
    );
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await countReleases(environment.client, 'polled', image.digest)).toBe(0);

    worker = await runWorker(environment, { taskQueue: TASK_QUEUE });
    const workflowId = releaseWorkflowId('polled', image.digest);
    await waitUntil(
      'release from the poll',
      async () => (await countReleases(environment.client, 'polled', image.digest)) === 1,
      30_000,
    );
    const status = await waitForRelease(environment.client, workflowId, isFinished, 'polled release to finish', 60_000);
    expect(status.state).toBe('completed');
    expect(status.startedBy).toBe('policy triggers[0] (poll)');
    expect(await tagDigest(registry.url, 'polled/prod', 'prod')).toBe(image.digest);

    await watcher.signal(watchStopSignal, { reason: 'test done' });
    const final = (await watcher.result()) as WatchStatus;
    expect(final.releasesStarted).toBe(1);
  });
});

function refOf(tag: string): Reference {
  return Reference.parse(`${registry.host}/shop/dev:${tag}`);
}
