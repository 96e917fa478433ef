import { spawn } from 'node:child_process';
import { type Credential, CredentialConfigError } from './credentials';

/** Helpers prompt or unlock keychains; a helper still running after this long is stuck. */
const HELPER_TIMEOUT_MS = 30_000;

/** Message a helper prints on stdout when it stores nothing for the server. */
const NOT_FOUND = /credentials not found/i;

/**
 * Runs `docker-credential-<helper> get` with the server URL on stdin, as docker does, and returns its credentials;
 * undefined when the helper stores none for that server. The helper's output is never put in an error message,
 * because it may contain the secret.
 */
export function runCredentialHelper(
  helper: string,
  serverUrl: string,
  timeoutMs = HELPER_TIMEOUT_MS,
): Promise<Credential | undefined> {
  const program = `docker-credential-${helper}`;
  return new Promise((resolve, reject) => {
    // Passing the environment explicitly makes spawn search the PATH of process.env as it is now.
    const child = spawn(program, ['get'], { env: process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    // spawn's own `timeout` option keeps its timer when the program does not start, which held a CLI that had
    // already failed open for the whole timeout. This timer ends with the helper, however the helper ends.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      child.stdout.destroy();
      child.stderr.destroy();
      reject(new CredentialConfigError(`${program} get timed out after ${timeoutMs / 1000} s for ${serverUrl}`));
    }, timeoutMs);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const reason =
        error.code === 'ENOENT' ? `${program} was not found on PATH` : `${program} failed to start: ${error.message}`;
      reject(
        new CredentialConfigError(
          `${reason}; install it or remove it from the docker config (credHelpers, credsStore)`,
        ),
      );
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const output = Buffer.concat(stdout).toString('utf8');
      if (code === 0) {
        try {
          resolve(parseHelperOutput(output));
        } catch {
          reject(
            new CredentialConfigError(
              `${program} get printed something other than a JSON object with Username and Secret`,
            ),
          );
        }
      } else if (NOT_FOUND.test(output)) {
        resolve(undefined);
      } else {
        const exit = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        const detail = Buffer.concat(stderr).toString('utf8').trim().slice(0, 200);
        reject(new CredentialConfigError(`${program} get ${exit} for ${serverUrl}${detail ? `: ${detail}` : ''}`));
      }
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(serverUrl);
  });
}

/** Docker marks an identity token (OAuth2 refresh token) by the username `<token>`. */
function parseHelperOutput(output: string): Credential | undefined {
  const parsed = JSON.parse(output) as { Username?: unknown; Secret?: unknown };
  const username = typeof parsed.Username === 'string' ? parsed.Username : undefined;
  const secret = typeof parsed.Secret === 'string' ? parsed.Secret : undefined;
  if (!secret) {
    return undefined;
  }
  return username === '<token>' ? { identityToken: secret } : { username, password: secret };
}
