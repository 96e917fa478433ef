import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { pipeline, Readable } from 'node:stream';

// Pushes blobs and manifests with fetch and node:http, apart from the registry client under test.

/** A registry's base URL, `http://127.0.0.1:5000`, or anything that has one (a LocalRegistry). */
export type RegistryTarget = string | { url: string };

function baseUrl(target: RegistryTarget): string {
  return (typeof target === 'string' ? target : target.url).replace(/\/$/, '');
}

export function hostOf(target: RegistryTarget): string {
  return new URL(baseUrl(target)).host;
}

export function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

async function expectStatus(response: Response, statuses: number[], what: string): Promise<void> {
  if (!statuses.includes(response.status)) {
    const text = await response.text();
    throw new Error(`${what}: expected HTTP ${statuses.join(' or ')}, got ${response.status}: ${text.slice(0, 500)}`);
  }
}

async function startUpload(target: RegistryTarget, repository: string): Promise<URL> {
  const response = await fetch(`${baseUrl(target)}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
  await expectStatus(response, [202], `POST upload to ${repository}`);
  await response.arrayBuffer();
  return new URL(response.headers.get('location') ?? '', baseUrl(target));
}

/** Uploads a blob monolithically: POST to open the upload, then one PUT with the bytes and the digest. */
export async function pushBlob(target: RegistryTarget, repository: string, bytes: Uint8Array): Promise<string> {
  const digest = sha256(bytes);
  const location = await startUpload(target, repository);
  location.searchParams.set('digest', digest);
  const response = await fetch(location, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  await expectStatus(response, [201], `PUT blob ${digest} to ${repository}`);
  await response.arrayBuffer();
  return digest;
}

/**
 * Sends one PATCH whose body is `stream`, with node:http so that reading the stream waits for the
 * socket (fetch in Node 20 was seen to hold a whole 1 GiB request body in memory).
 */
function streamPatch(
  url: URL,
  stream: AsyncIterable<Uint8Array>,
): Promise<{ status: number; location?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, {
      method: 'PATCH',
      // Distribution 2.8 returns 500 for a PATCH with any other content type.
      headers: { 'content-type': 'application/octet-stream' },
    });
    request.on('response', (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (text: string) => (body += text));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, location: response.headers.location, body }),
      );
      response.on('error', reject);
    });
    pipeline(Readable.from(stream), request, (error) => {
      if (error) {
        reject(error);
      }
    });
  });
}

/**
 * Uploads a stream whose digest is known only at its end: POST, one streamed PATCH, then PUT with the
 * digest that `digestAfter` returns once the stream has been read.
 */
export async function pushBlobStream(
  target: RegistryTarget,
  repository: string,
  stream: AsyncIterable<Uint8Array>,
  digestAfter: () => Promise<string>,
): Promise<void> {
  const location = await startUpload(target, repository);
  const patched = await streamPatch(location, stream);
  if (patched.status !== 202) {
    throw new Error(
      `PATCH upload to ${repository}: expected HTTP 202, got ${patched.status}: ${patched.body.slice(0, 500)}`,
    );
  }

  const digest = await digestAfter();
  const committed = new URL(patched.location ?? '', baseUrl(target));
  committed.searchParams.set('digest', digest);
  const response = await fetch(committed, { method: 'PUT' });
  await expectStatus(response, [201], `PUT blob ${digest} to ${repository}`);
  await response.arrayBuffer();
}

/** Pushes manifest bytes under a tag or, without one, under their digest; returns the digest. */
export async function pushManifest(
  target: RegistryTarget,
  repository: string,
  bytes: Buffer,
  mediaType: string,
  tag?: string,
): Promise<string> {
  const digest = sha256(bytes);
  const response = await fetch(`${baseUrl(target)}/v2/${repository}/manifests/${tag ?? digest}`, {
    method: 'PUT',
    headers: { 'content-type': mediaType },
    body: bytes,
  });
  await expectStatus(response, [201], `PUT manifest ${tag ?? digest} to ${repository}`);
  await response.arrayBuffer();
  const returned = response.headers.get('docker-content-digest');
  if (returned !== null && returned !== digest) {
    throw new Error(`registry stored manifest ${digest} as ${returned}`);
  }
  return digest;
}
