import { generateKeyPairSync, type KeyObject, randomUUID, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/** One entry of a token's `access` claim, as CNCF Distribution reads it. */
export interface Access {
  type: string;
  name: string;
  actions: string[];
}

/** A token request as the server received it. */
export interface RecordedTokenRequest {
  method: string;
  /** Query parameters (GET) or form fields (POST); `scope` may repeat. */
  params: URLSearchParams;
  /** Username of valid Basic credentials or of a valid refresh token; undefined for anonymous. */
  user?: string;
  authorization?: string;
}

export interface TokenServerOptions {
  service: string;
  issuer: string;
  /** Users allowed to get tokens by Basic auth; anonymous requests get tokens with no access. */
  users: Record<string, string>;
  /** OAuth2 refresh tokens (POST, grant_type=refresh_token) and the user each belongs to. */
  refreshTokens?: Record<string, string>;
  /** `expires_in` of issued tokens in seconds; omitted from the response when undefined. */
  expiresIn?: number;
  /** Decides the access a token grants; default: exactly what was requested, to any known user. */
  grant?: (requested: Access[], request: RecordedTokenRequest) => Access[];
}

/** A token server on 127.0.0.1 that issues ES256 JWTs a Distribution registry verifies with its JWKS file. */
export interface TokenServer {
  /** Token endpoint URL; it carries a query string of its own, `?x=1`, that clients must keep. */
  realm: string;
  jwksPath: string;
  requests: RecordedTokenRequest[];
  /** Signs a token directly, for test set-up that must not go through the client under test. */
  mint(access: Access[], subject?: string): string;
  close(): Promise<void>;
}

const KEY_ID = 'test-signing-key';

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

function signToken(privateKey: KeyObject, claims: Record<string, unknown>): string {
  const header = base64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: KEY_ID }));
  const payload = base64url(JSON.stringify(claims));
  // JWS wants the raw r||s signature form, not the DER that node produces by default.
  const signature = sign('sha256', Buffer.from(`${header}.${payload}`), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${header}.${payload}.${base64url(signature)}`;
}

/** Parses `repository:team/app:pull,push` scope strings into access entries. */
export function parseScopes(scopes: string[]): Access[] {
  return scopes
    .flatMap((scope) => scope.split(' '))
    .filter(Boolean)
    .map((scope) => {
      const first = scope.indexOf(':');
      const last = scope.lastIndexOf(':');
      return {
        type: scope.slice(0, first),
        name: scope.slice(first + 1, last),
        actions: scope.slice(last + 1).split(','),
      };
    });
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function basicUser(header: string | undefined, users: Record<string, string>): string | undefined | null {
  if (!header?.startsWith('Basic ')) {
    return undefined;
  }
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const [user, password] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
  return users[user] === password ? user : null;
}

/** Starts the token server and writes the JWKS file with its public key into `dir`. */
export async function startTokenServer(dir: string, options: TokenServerOptions): Promise<TokenServer> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwksPath = join(dir, 'jwks.json');
  writeFileSync(
    jwksPath,
    JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: KEY_ID, alg: 'ES256', use: 'sig' }] }),
  );
  const requests: RecordedTokenRequest[] = [];

  const mint = (access: Access[], subject = 'anonymous'): string => {
    const now = Math.floor(Date.now() / 1000);
    return signToken(privateKey, {
      iss: options.issuer,
      sub: subject,
      aud: options.service,
      exp: now + (options.expiresIn ?? 300),
      nbf: now - 1,
      iat: now,
      jti: randomUUID(),
      access,
    });
  };

  const server: Server = createServer((request, response) => {
    void (async () => {
      const url = new URL(request.url ?? '/', 'http://127.0.0.1');
      const params = request.method === 'POST' ? new URLSearchParams(await readBody(request)) : url.searchParams;
      const recorded: RecordedTokenRequest = {
        method: request.method ?? '',
        params,
        authorization: request.headers.authorization,
      };
      requests.push(recorded);
      const reply = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      };

      if (url.pathname !== '/token' || url.searchParams.get('x') !== '1') {
        return reply(404, {
          errors: [{ code: 'NOT_FOUND', message: `no token endpoint at ${url.pathname}${url.search}` }],
        });
      }
      if (request.method === 'POST') {
        const user = options.refreshTokens?.[params.get('refresh_token') ?? ''];
        if (params.get('grant_type') !== 'refresh_token' || !user) {
          return reply(400, { error: 'invalid_grant', error_description: 'unknown refresh token' });
        }
        recorded.user = user;
      } else {
        const user = basicUser(request.headers.authorization, options.users);
        if (user === null) {
          return reply(401, { errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] });
        }
        recorded.user = user;
      }

      const requested = parseScopes(params.getAll('scope'));
      const granted = recorded.user ? (options.grant?.(requested, recorded) ?? requested) : [];
      const token = mint(granted, recorded.user);
      const expiry = options.expiresIn === undefined ? {} : { expires_in: options.expiresIn };
      // The docker token spec names the field `token` and OAuth2 names it `access_token`, so each flow gets its own.
      reply(200, request.method === 'POST' ? { access_token: token, ...expiry } : { token, ...expiry });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    realm: `http://127.0.0.1:${port}/token?x=1`,
    jwksPath,
    requests,
    mint,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
