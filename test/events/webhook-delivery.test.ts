import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { createEventActivities } from '../../activities/events';
import { SIGNATURE_HEADER, verifyWebhookSignature } from '../../src/events/signature';
import type { ReleaseEvent } from '../../src/events/types';

const SECRET = 'webhook-secret-for-tests';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

let server: Server;
let url: string;
const received: Received[] = [];
let nextStatus = 204;

const event: ReleaseEvent = {
  id: 'release-web-abc/run/1',
  kind: 'stage.promoted',
  pipeline: 'web',
  stage: 'staging',
  digest: `sha256:${'a'.repeat(64)}`,
  releaseId: 'release-web-abc',
  runId: 'run',
  sequence: 1,
  time: '2025-06-01T12:00:00.000Z',
};

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      received.push({ headers: request.headers, body });
      response.statusCode = nextStatus;
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  received.length = 0;
  nextStatus = 204;
});

function activities(environment: NodeJS.ProcessEnv = { HOOK_SECRET: SECRET }) {
  return createEventActivities({ environment });
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ApplicationFailure);
    return error as ApplicationFailure;
  }
  throw new Error('expected the delivery to fail');
}

describe('webhook delivery', () => {
  it('posts the event signed with the secret', async () => {
    const result = await activities().deliverReleaseEvent({ webhook: { url, secretEnv: 'HOOK_SECRET' }, event });
    expect(result).toEqual({ status: 204 });
    expect(received).toHaveLength(1);
    const [{ headers, body }] = received;
    expect(JSON.parse(body)).toEqual(event);
    expect(headers['content-type']).toBe('application/json');
    expect(headers['x-promote-event']).toBe('stage.promoted');
    expect(headers['x-promote-delivery']).toBe(event.id);
    expect(verifyWebhookSignature(body, headers[SIGNATURE_HEADER] as string, SECRET)).toBe(true);
    expect(verifyWebhookSignature(body, headers[SIGNATURE_HEADER] as string, 'another secret')).toBe(false);
  });

  it('retries a server error', async () => {
    nextStatus = 503;
    const failure = await failureOf(
      activities().deliverReleaseEvent({ webhook: { url, secretEnv: 'HOOK_SECRET' }, event }),
    );
    expect(failure.nonRetryable).toBe(false);
    expect(failure.message).toContain('answered HTTP 503');
  });

  it('gives up on a client error', async () => {
    nextStatus = 400;
    const failure = await failureOf(
      activities().deliverReleaseEvent({ webhook: { url, secretEnv: 'HOOK_SECRET' }, event }),
    );
    expect(failure.nonRetryable).toBe(true);
    expect(failure.type).toBe('WebhookRejected');
  });

  it('fails without the secret variable', async () => {
    const failure = await failureOf(
      activities({}).deliverReleaseEvent({ webhook: { url, secretEnv: 'HOOK_SECRET' }, event }),
    );
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('HOOK_SECRET');
    expect(received).toHaveLength(0);
  });
});
