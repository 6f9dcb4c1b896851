import { createHash } from 'node:crypto';
import { stableStringify } from './job-type.js';

/** Idempotency keys are opaque strings; this bounds and normalizes them. */
export const IDEMPOTENCY_KEY_MAX = 256;

/**
 * Scopes a key to its job type, so two job types never collide on a client-chosen key.
 * Long keys are hashed so that the stored key stays bounded.
 */
export function scopedIdempotencyKey(jobType: string, key: string): string {
  const scoped = `${jobType}#${key}`;
  return scoped.length <= IDEMPOTENCY_KEY_MAX ? scoped : `${jobType}#sha256:${sha256(key)}`;
}

/** A key derived from parts (e.g. schedule id + scheduled time, bucket + key + etag). */
export function derivedIdempotencyKey(...parts: readonly string[]): string {
  return parts.map((p) => p.replaceAll('|', '%7C')).join('|');
}

/** A key derived from the payload itself, for job types that ask for payload-hash keys. */
export function payloadHashKey(jobType: string, params: unknown): string {
  return `payload:${sha256(`${jobType}\n${stableStringify(params)}`)}`;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
