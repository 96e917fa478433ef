/** Pushes referrers (manifests with a `subject`) the way signing tools do, apart from the client under test. */
import { pushBlob, pushManifest, type RegistryTarget } from '../../scripts/lib/images';
import { type Descriptor, parseDigest } from '../../src/oci/digest';
import { referrersTag } from '../../src/oci/referrers';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const EMPTY = 'application/vnd.oci.empty.v1+json';

/** The manifest a referrer names as its subject. */
export interface Subject {
  digest: string;
  mediaType: string;
  size: number;
}

/** Pushes an artifact manifest whose subject is `subject`, with one small layer, and returns its descriptor. */
export async function pushReferrer(
  registry: RegistryTarget,
  repository: string,
  subject: Subject,
  artifactType: string,
  content: string,
): Promise<Descriptor> {
  const empty = await pushBlob(registry, repository, Buffer.from('{}'));
  const layer = Buffer.from(content);
  const layerDigest = await pushBlob(registry, repository, layer);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType,
      config: { mediaType: EMPTY, digest: empty, size: 2 },
      layers: [{ mediaType: 'application/octet-stream', digest: layerDigest, size: layer.length }],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations: { 'org.example.content': content },
    }),
  );
  const digest = await pushManifest(registry, repository, manifest, OCI_MANIFEST);
  return {
    mediaType: OCI_MANIFEST,
    digest: parseDigest(digest),
    size: manifest.length,
    artifactType,
    annotations: { 'org.example.content': content },
  };
}

/** Writes the referrers tag of `subject`, as a client of a registry without the referrers API does. */
export async function tagReferrers(
  registry: RegistryTarget,
  repository: string,
  subject: Subject,
  referrers: Descriptor[],
): Promise<void> {
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: referrers }));
  await pushManifest(registry, repository, index, OCI_INDEX, referrersTag(parseDigest(subject.digest)));
}
