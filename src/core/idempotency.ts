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

/** The key a submit is deduplicated by: the client's, or the payload hash when the job type asks for it. */
export function effectiveIdempotencyKey(
  type: { readonly name: string; readonly idempotency?: 'none' | 'payload-hash' },
  request: { readonly idempotencyKey?: string; readonly params: unknown },
): string | undefined {
  if (request.idempotencyKey !== undefined) return request.idempotencyKey;
  return type.idempotency === 'payload-hash' ? payloadHashKey(type.name, request.params) : undefined;
}

/** How long a type's keys are kept: its own retention, else the deployment's. */
export function idempotencyRetentionHours(
  type: { readonly idempotencyRetentionHours?: number },
  settings: { readonly idempotencyRetentionHours: number },
): number {
  return type.idempotencyRetentionHours ?? settings.idempotencyRetentionHours;
}

/**
 * Derived keys of queue messages. The other triggers derive theirs where they are parsed (triggers/schedule.ts: the
 * schedule and the time it was due; triggers/trigger-messages.ts: the trigger, bucket, key and version of an upload,
 * the event id of an event trigger; hooks: the provider's delivery id).
 */
export const DerivedKeys = {
  /**
   * A queue message: its id, or the id of the message it was redriven from (attribute `offpeak-redrive-of`), so a
   * redrive of a dead message never makes a second job.
   */
  sqsMessage: (messageId: string, redriveOf?: string) => `sqs:${redriveOf ?? messageId}`,
} as const;
