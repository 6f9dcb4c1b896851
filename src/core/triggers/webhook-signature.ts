import { createHmac, timingSafeEqual } from 'node:crypto';

/** Why a signature was refused (never which bytes were expected). */
export type SignatureFailure = 'missing' | 'malformed' | 'mismatch' | 'stale-timestamp' | 'missing-timestamp';

export type SignatureCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: SignatureFailure };

/**
 * Compares two digests in constant time: different lengths are refused without comparing (timingSafeEqual requires
 * equal lengths; the length of an HMAC digest is public).
 */
export function digestsEqual(expected: Buffer, given: Buffer): boolean {
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/**
 * Verifies GitHub's `X-Hub-Signature-256: sha256=<hex>`: HMAC-SHA256 of the raw body bytes with the hook's secret.
 *
 * @param rawBody the body exactly as received (never a re-serialized object)
 */
export function verifyGithubSignature(
  secret: string,
  rawBody: Buffer,
  header: string | undefined,
): SignatureCheck {
  if (!header) return { ok: false, reason: 'missing' };
  const match = /^sha256=([0-9a-fA-F]{64})$/.exec(header.trim());
  if (!match) return { ok: false, reason: 'malformed' };
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  return digestsEqual(expected, Buffer.from(match[1]!, 'hex'))
    ? { ok: true }
    : { ok: false, reason: 'mismatch' };
}

/** How a generic HMAC webhook signs its requests. */
export interface HmacScheme {
  readonly algorithm: 'sha256' | 'sha512';
  /** How the digest is written in the header. */
  readonly encoding: 'hex' | 'base64';
  /** Text before the digest in the header (e.g. `sha256=`). */
  readonly prefix?: string;
}

/**
 * Verifies a generic HMAC signature. With a timestamp, the signed content is `<timestamp>.<raw body>` (so a
 * captured request cannot be replayed with another timestamp) and the timestamp (Unix seconds) must be within
 * `toleranceSeconds` of `now`.
 */
export function verifyHmacSignature(input: {
  readonly secret: string;
  readonly rawBody: Buffer;
  readonly signature: string | undefined;
  readonly scheme: HmacScheme;
  /** The timestamp header's value, when the hook requires one. */
  readonly timestamp?: string | undefined;
  readonly requireTimestamp: boolean;
  readonly toleranceSeconds: number;
  readonly now: Date;
}): SignatureCheck {
  const { scheme } = input;
  if (!input.signature) return { ok: false, reason: 'missing' };
  let text = input.signature.trim();
  if (scheme.prefix) {
    if (!text.startsWith(scheme.prefix)) return { ok: false, reason: 'malformed' };
    text = text.slice(scheme.prefix.length);
  }
  const valid = scheme.encoding === 'hex' ? /^[0-9a-fA-F]+$/ : /^[A-Za-z0-9+/]+={0,2}$/;
  if (!valid.test(text)) return { ok: false, reason: 'malformed' };
  const given = Buffer.from(text, scheme.encoding);

  const hmac = createHmac(scheme.algorithm, input.secret);
  if (input.requireTimestamp) {
    const stamp = input.timestamp?.trim();
    if (!stamp) return { ok: false, reason: 'missing-timestamp' };
    if (!/^\d{1,12}$/.test(stamp)) return { ok: false, reason: 'malformed' };
    // Verify the signature first: an unsigned request learns nothing about the clock.
    hmac.update(`${stamp}.`);
    hmac.update(input.rawBody);
    if (!digestsEqual(hmac.digest(), given)) return { ok: false, reason: 'mismatch' };
    const skew = Math.abs(input.now.getTime() / 1000 - Number(stamp));
    return skew <= input.toleranceSeconds ? { ok: true } : { ok: false, reason: 'stale-timestamp' };
  }
  hmac.update(input.rawBody);
  return digestsEqual(hmac.digest(), given) ? { ok: true } : { ok: false, reason: 'mismatch' };
}

/** Computes a generic HMAC signature header value (for senders, tests and docs). */
export function signHmac(
  secret: string,
  rawBody: Buffer | string,
  scheme: HmacScheme,
  timestamp?: string,
): string {
  const hmac = createHmac(scheme.algorithm, secret);
  if (timestamp !== undefined) hmac.update(`${timestamp}.`);
  hmac.update(rawBody);
  return `${scheme.prefix ?? ''}${hmac.digest(scheme.encoding)}`;
}
