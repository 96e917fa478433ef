/**
 * What the fault proxy saw of the writes that change a registry: every manifest PUT and every final upload PUT
 * (`?digest=`), each with the sha256 of the bytes that went through the proxy. An upload may send its bytes in
 * PATCH requests before the final PUT, so the hash of a session carries the PATCH bodies the registry accepted.
 */
import { createHash, type Hash } from 'node:crypto';

/** A manifest PUT: by tag (a tag move) or by digest (a copy). */
export interface ManifestPut {
  proxy: string;
  repository: string;
  /** Tag or digest from the URL. */
  reference: string;
  /** sha256 of the request body as it passed the proxy. */
  bodyDigest: string;
  bytes: number;
  /** False when the client aborted the request before its body ended. */
  bodyComplete: boolean;
  /** False when the proxy returned a fault without forwarding the request. */
  forwarded: boolean;
  /** Status the registry returned; undefined when the request was not forwarded or the exchange broke. */
  status?: number;
}

/** A final upload PUT: the request that commits the session's bytes as `claimedDigest`. */
export interface UploadCommit {
  proxy: string;
  repository: string;
  /** The `digest` query parameter. */
  claimedDigest: string;
  /** sha256 of the session's accepted PATCH bodies followed by this request's body. */
  bodyDigest: string;
  bytes: number;
  bodyComplete: boolean;
  forwarded: boolean;
  status?: number;
}

/** End of one request as the proxy saw it. */
export interface RequestEnd {
  bodyComplete: boolean;
  forwarded: boolean;
  status?: number;
}

/** Hashes one request's body while it streams; `finish` records it. */
export interface BodyObserver {
  update(chunk: Buffer): void;
  finish(end: RequestEnd): void;
}

const MANIFEST_PATH = /^\/v2\/(.+)\/manifests\/([^/]+)$/;
const UPLOAD_PATH = /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/;

interface Session {
  hash: Hash;
  bytes: number;
}

export class TrafficRecorder {
  readonly manifestPuts: ManifestPut[] = [];
  readonly uploadCommits: UploadCommit[] = [];
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly proxy: string) {}

  /** Returns an observer for a request that writes to the registry, or undefined for any other request. */
  observe(method: string, path: string, query: URLSearchParams): BodyObserver | undefined {
    const manifest = MANIFEST_PATH.exec(path);
    if (method === 'PUT' && manifest) {
      return this.observeManifest(manifest[1], decodeURIComponent(manifest[2]));
    }
    const upload = UPLOAD_PATH.exec(path);
    if (upload && method === 'PATCH') {
      return this.observePatch(upload[2]);
    }
    const claimed = query.get('digest');
    if (upload && method === 'PUT' && claimed !== null) {
      return this.observeCommit(upload[1], upload[2], claimed);
    }
    return undefined;
  }

  private observeManifest(repository: string, reference: string): BodyObserver {
    const hash = createHash('sha256');
    let bytes = 0;
    return {
      update: (chunk) => {
        hash.update(chunk);
        bytes += chunk.length;
      },
      finish: (end) => {
        this.manifestPuts.push({
          proxy: this.proxy,
          repository,
          reference,
          bodyDigest: `sha256:${hash.digest('hex')}`,
          bytes,
          ...end,
        });
      },
    };
  }

  /** Observes a PATCH, whose bytes count for the session only when the registry accepted them (202). */
  private observePatch(session: string): BodyObserver {
    const base = this.sessions.get(session);
    const hash = base ? base.hash.copy() : createHash('sha256');
    let bytes = base?.bytes ?? 0;
    return {
      update: (chunk) => {
        hash.update(chunk);
        bytes += chunk.length;
      },
      finish: (end) => {
        if (end.forwarded && end.status === 202) {
          this.sessions.set(session, { hash, bytes });
        }
      },
    };
  }

  private observeCommit(repository: string, session: string, claimedDigest: string): BodyObserver {
    const base = this.sessions.get(session);
    const hash = base ? base.hash.copy() : createHash('sha256');
    let bytes = base?.bytes ?? 0;
    return {
      update: (chunk) => {
        hash.update(chunk);
        bytes += chunk.length;
      },
      finish: (end) => {
        this.sessions.delete(session);
        this.uploadCommits.push({
          proxy: this.proxy,
          repository,
          claimedDigest,
          bodyDigest: `sha256:${hash.digest('hex')}`,
          bytes,
          ...end,
        });
      },
    };
  }
}
