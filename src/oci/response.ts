import type { RegistryResponse } from './transport';

/** Returns a response header as one string: the first value when the server repeated the header. */
export function headerValue(headers: RegistryResponse['headers'], name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Thrown when a response body is longer than the reader accepts. */
export class ResponseTooLargeError extends Error {
  constructor(
    readonly subject: string,
    readonly limit: number,
  ) {
    super(`${subject}: the response body is larger than ${limit} bytes, the maximum accepted`);
    this.name = 'ResponseTooLargeError';
  }
}

/** Reads a whole response body, destroying it and throwing ResponseTooLargeError past `limit` bytes. */
export async function readLimited(body: RegistryResponse['body'], limit: number, subject: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) {
      body.destroy();
      throw new ResponseTooLargeError(subject, limit);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, size);
}
