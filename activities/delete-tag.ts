import type { Reference } from '../src/oci/reference';
import type { Transport } from '../src/oci/transport';

/**
 * Deletes a tag with `DELETE /v2/<name>/manifests/<tag>` (OCI distribution spec 1.1, "Deleting tags"), which
 * removes the tag but not the manifest. Returns false when the tag did not exist. A registry that does not support
 * tag deletion returns 400 UNSUPPORTED or 405, which the transport reports as a non-retryable RegistryError.
 * NOTE: token-auth registries may require a `delete` scope action, which the transport cannot request yet
 * (it requests pull and push only). Such a registry returns 401 or 403.
 */
export async function deleteTag(transport: Transport, ref: Reference, signal?: AbortSignal): Promise<boolean> {
  if (ref.tag === undefined) {
    throw new TypeError(`deleteTag needs a reference with a tag, got ${ref.toString()}`);
  }

  const response = await transport.request({
    method: 'DELETE',
    registry: ref.registry,
    repository: ref.repository,
    path: `/v2/${ref.repository}/manifests/${ref.tag}`,
    actions: ['pull', 'push'],
    expect: [200, 202, 404],
    signal,
  });
  await response.body.dump();

  return response.status !== 404;
}
