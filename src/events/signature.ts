import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header that carries `sha256=<hex HMAC-SHA256 of the raw body>`, keyed with the pipeline's secret. */
export const SIGNATURE_HEADER = 'x-promote-signature-256';
/** Header that carries the event kind, so receivers can route without parsing the body. */
export const EVENT_KIND_HEADER = 'x-promote-event';
/** Header that carries the event id, stable across retries. */
export const DELIVERY_HEADER = 'x-promote-delivery';

/** Returns the signature header value for a body: `sha256=` and the hex HMAC-SHA256 of its bytes. */
export function signWebhookBody(body: string | Buffer, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Checks a signature header value against a body in constant time. */
export function verifyWebhookSignature(body: string | Buffer, header: string | undefined, secret: string): boolean {
  if (!header) {
    return false;
  }
  const expected = Buffer.from(signWebhookBody(body, secret));
  const received = Buffer.from(header);
  return expected.length === received.length && timingSafeEqual(expected, received);
}
