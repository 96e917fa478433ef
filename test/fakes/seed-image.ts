import { createHash } from 'node:crypto';

// Pushes a minimal image with plain fetch and a ready Authorization header, apart from the transport under test,
// so auth tests have a manifest to read from registries that require credentials.

/** A pushed image: its manifest digest and bytes. */
export interface SeededImage {
  digest: string;
  manifest: Buffer;
}

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

async function expectStatus(response: Response, status: number, what: string): Promise<void> {
  if (response.status !== status) {
    throw new Error(`${what}: expected ${status}, got ${response.status}: ${await response.text()}`);
  }
  await response.arrayBuffer();
}

/** Pushes a config blob and an OCI manifest with no layers under `tag`, authorising every request with `authorization`. */
export async function seedImage(
  baseUrl: string,
  repository: string,
  tag: string,
  authorization: string,
): Promise<SeededImage> {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
  );
  const configDigest = sha256(config);

  const started = await fetch(`${baseUrl}/v2/${repository}/blobs/uploads/`, {
    method: 'POST',
    headers: { authorization },
  });
  const location = new URL(started.headers.get('location') ?? '', baseUrl);
  await expectStatus(started, 202, `POST upload to ${repository}`);
  location.searchParams.set('digest', configDigest);
  const uploaded = await fetch(location, {
    method: 'PUT',
    headers: { authorization, 'content-type': 'application/octet-stream' },
    body: config,
  });
  await expectStatus(uploaded, 201, `PUT config blob to ${repository}`);

  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [],
    }),
  );
  const put = await fetch(`${baseUrl}/v2/${repository}/manifests/${tag}`, {
    method: 'PUT',
    headers: { authorization, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: manifest,
  });
  await expectStatus(put, 201, `PUT manifest ${tag} to ${repository}`);
  return { digest: sha256(manifest), manifest };
}
