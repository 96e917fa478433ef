/**
 * The floor of the benchmark: a plain parallel HTTP stream of an image between two plain-HTTP registries, with
 * none of the product's work. Every blob at once is streamed from its GET into one monolithic PUT, without
 * existence checks, mounts, digest verification or retries, then the manifests are PUT. Runs in-process
 * (copyOverHttp) or as a program: `node http-stream.js HOST/REPO:TAG HOST/REPO:TAG`.
 */
import { request } from 'undici';

const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

interface Location {
  base: string;
  repository: string;
  reference: string;
}

interface ManifestJson {
  mediaType: string;
  manifests?: { digest: string }[];
  config?: { digest: string; size: number };
  layers?: { digest: string; size: number }[];
}

/** Splits `host:port/repo/path:tag` (or `@digest`) into its parts; plain HTTP only. */
export function parseLocation(text: string): Location {
  const slash = text.indexOf('/');
  const rest = text.slice(slash + 1);
  const at = rest.indexOf('@');
  const colon = rest.lastIndexOf(':');
  const split = at >= 0 ? at : colon;
  if (slash < 0 || split < 0) {
    throw new Error(`expected HOST:PORT/REPOSITORY:TAG or ...@DIGEST, got ${text}`);
  }
  return { base: `http://${text.slice(0, slash)}`, repository: rest.slice(0, split), reference: rest.slice(split + 1) };
}

async function fetchManifest(from: Location, reference: string): Promise<{ bytes: Buffer; mediaType: string }> {
  const response = await request(`${from.base}/v2/${from.repository}/manifests/${reference}`, {
    headers: { accept: MANIFEST_TYPES },
  });
  const bytes = Buffer.from(await response.body.arrayBuffer());
  if (response.statusCode !== 200) {
    throw new Error(`GET manifest ${reference} from ${from.repository}: HTTP ${response.statusCode}`);
  }
  const mediaType = (JSON.parse(bytes.toString()) as ManifestJson).mediaType;
  return { bytes, mediaType };
}

async function streamBlob(from: Location, to: Location, digest: string, size: number): Promise<void> {
  const [source, started] = await Promise.all([
    request(`${from.base}/v2/${from.repository}/blobs/${digest}`),
    request(`${to.base}/v2/${to.repository}/blobs/uploads/`, { method: 'POST' }),
  ]);
  await started.body.dump();
  if (source.statusCode !== 200 || started.statusCode !== 202) {
    throw new Error(`blob ${digest}: GET returned ${source.statusCode}, POST upload ${started.statusCode}`);
  }
  const upload = new URL(String(started.headers.location), to.base);
  upload.searchParams.set('digest', digest);
  const put = await request(upload, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
    body: source.body,
  });
  await put.body.dump();
  if (put.statusCode !== 201) {
    throw new Error(`PUT blob ${digest}: HTTP ${put.statusCode}`);
  }
}

async function putManifest(to: Location, reference: string, manifest: { bytes: Buffer; mediaType: string }) {
  const response = await request(`${to.base}/v2/${to.repository}/manifests/${reference}`, {
    method: 'PUT',
    headers: { 'content-type': manifest.mediaType },
    body: manifest.bytes,
  });
  await response.body.dump();
  if (response.statusCode !== 201) {
    throw new Error(`PUT manifest ${reference} to ${to.repository}: HTTP ${response.statusCode}`);
  }
}

/** Copies the manifest `reference` and everything under it; pushes it under `targetReference`. */
async function copyManifest(from: Location, to: Location, reference: string, targetReference: string) {
  const manifest = await fetchManifest(from, reference);
  const parsed = JSON.parse(manifest.bytes.toString()) as ManifestJson;
  if (parsed.manifests) {
    await Promise.all(parsed.manifests.map((child) => copyManifest(from, to, child.digest, child.digest)));
  } else {
    const blobs = [...(parsed.config ? [parsed.config] : []), ...(parsed.layers ?? [])];
    await Promise.all(blobs.map((blob) => streamBlob(from, to, blob.digest, blob.size)));
  }
  await putManifest(to, targetReference, manifest);
}

/** Copies `source` to `target`, both `HOST:PORT/REPOSITORY:TAG`, over plain HTTP. */
export function copyOverHttp(source: string, target: string): Promise<void> {
  const from = parseLocation(source);
  const to = parseLocation(target);
  return copyManifest(from, to, from.reference, to.reference);
}

if (require.main === module) {
  const [source, target] = process.argv.slice(2);
  copyOverHttp(source, target).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
