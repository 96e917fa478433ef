export { RegistryClient, type RegistryClientOptions } from './client';
export { copyImage, type CopyOptions, type CopyResult } from './copy';
export {
  type Descriptor,
  type Digest,
  DigestVerifier,
  InvalidDigestError,
  isDigest,
  parseDigest,
  type Platform,
  sha256,
} from './digest';
export { AuthenticationError, DigestMismatchError, RegistryError, UnsupportedManifestError } from './errors';
export { BlobSizeMismatchError } from './blob';
export { BlobTransferError } from './copy-blob';
export { InvalidManifestError, type FetchedManifest, type ManifestContent, parseManifestContent } from './manifest';
export { MediaType, isIndexMediaType, isImageManifestMediaType } from './media-types';
export { type ProgressEvent, type ProgressListener } from './progress';
export { DOCKER_HUB_REGISTRY, InvalidReferenceError, Reference } from './reference';
export { Transport, type TransportOptions } from './transport';
