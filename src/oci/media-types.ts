/** Media types of the OCI image specification v1.1 and of Docker's image manifest v2. */
export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociArtifactManifest: 'application/vnd.oci.artifact.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociForeignLayer: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociForeignLayerGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** Manifest media types this client reads and copies, most specific first; sent as the Accept list. */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [
  MediaType.ociIndex,
  MediaType.dockerManifestList,
  MediaType.ociManifest,
  MediaType.dockerManifest,
  MediaType.ociArtifactManifest,
];

/** The `Accept` header value for manifest requests. */
export const MANIFEST_ACCEPT = MANIFEST_MEDIA_TYPES.join(', ');

/** Annotation BuildKit puts on an index entry that points at an attestation manifest (SBOM, provenance). */
export const ATTESTATION_REFERENCE_TYPE = 'vnd.docker.reference.type';

/** Returns whether the media type is a list of manifests (OCI index or Docker manifest list). */
export function isIndexMediaType(mediaType: string): boolean {
  return mediaType === MediaType.ociIndex || mediaType === MediaType.dockerManifestList;
}

/** Returns whether the media type is a single image or artifact manifest. */
export function isImageManifestMediaType(mediaType: string): boolean {
  return (
    mediaType === MediaType.ociManifest ||
    mediaType === MediaType.dockerManifest ||
    mediaType === MediaType.ociArtifactManifest
  );
}

/** Returns whether the media type is Docker's schema 1 manifest, which this client does not copy. */
export function isSchema1MediaType(mediaType: string): boolean {
  return mediaType === MediaType.dockerSchema1 || mediaType === MediaType.dockerSchema1Signed;
}

/** Strips parameters such as `; charset=utf-8` from a Content-Type value. */
export function baseMediaType(contentType: string): string {
  return contentType.split(';')[0].trim().toLowerCase();
}
