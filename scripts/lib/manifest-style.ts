/**
 * Serialisation styles of manifest JSON. A registry stores the bytes it was given, so a copy that
 * re-serialises a manifest changes its digest. The unusual styles make such a copy fail visibly.
 * - `compact`: JSON.stringify without spaces.
 * - `indented`: three-space indentation and a trailing newline.
 * - `unusual`: keys in reverse order, tab indentation, `<`, `>`, `&` and non-ASCII written as `\u` escapes
 *   (as Go's encoding/json does), CRLF line ends and a trailing newline.
 */
export type ManifestStyle = 'compact' | 'indented' | 'unusual';

function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(reverseKeys);
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).reverse();
    return Object.fromEntries(entries.map(([key, child]) => [key, reverseKeys(child)]));
  }
  return value;
}

function escapeLikeGo(json: string): string {
  return json.replace(/[<>&\u0080-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Serialises a manifest object in the given style. */
export function serializeManifest(manifest: object, style: ManifestStyle): Buffer {
  switch (style) {
    case 'compact':
      return Buffer.from(JSON.stringify(manifest));
    case 'indented':
      return Buffer.from(JSON.stringify(manifest, null, 3) + '\n');
    case 'unusual':
      return Buffer.from(escapeLikeGo(JSON.stringify(reverseKeys(manifest), null, '\t')).replace(/\n/g, '\r\n') + '\n');
  }
}
