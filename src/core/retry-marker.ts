import { z } from 'zod';

/**
 * The "retry me later" marker a job writes before it exits (design §2, retry policy): how long Offpeak should wait
 * before the next attempt, e.g. after a 429 with `Retry-After: 120` from an API the job called.
 *
 * Where: the location in the job's `OFFPEAK_RETRY_MARKER` environment variable — on AWS an S3 URI of this
 * attempt's marker object (`s3://<bucket>/outputs/<jobId>/_offpeak/retry-after-<attempt>`), which the job role may
 * write; locally a file path under the data directory. What: the delay in seconds, as
 * - a bare number (`120`),
 * - a line `OFFPEAK_RETRY_AFTER=120`, or
 * - JSON `{"retryAfterSeconds": 120, "reason": "429 from the rates API"}`.
 */
export interface RetryMarker {
  readonly retryAfterSeconds: number;
  /** Why the job asked (kept on the job's history). */
  readonly reason?: string;
}

/** Largest marker body Offpeak reads; anything longer is not a marker. */
export const RETRY_MARKER_MAX_BYTES = 4096;

const JsonMarkerSchema = z
  .object({
    retryAfterSeconds: z.number().finite().min(0),
    reason: z.string().max(1000).optional(),
  })
  .loose();

/**
 * Parses a marker body. @returns undefined when the body is not a marker (it is then ignored, never an error: a
 * job's bad marker must not break tracking).
 *
 * @example parseRetryMarker('OFFPEAK_RETRY_AFTER=120') // { retryAfterSeconds: 120 }
 */
export function parseRetryMarker(text: string): RetryMarker | undefined {
  if (text.length > RETRY_MARKER_MAX_BYTES) return undefined;
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    try {
      const parsed = JsonMarkerSchema.safeParse(JSON.parse(trimmed));
      if (!parsed.success) return undefined;
      return {
        retryAfterSeconds: parsed.data.retryAfterSeconds,
        ...(parsed.data.reason ? { reason: parsed.data.reason } : {}),
      };
    } catch {
      return undefined;
    }
  }
  // The last `OFFPEAK_RETRY_AFTER=` line wins; a bare number is accepted on its own.
  const assignments = [...trimmed.matchAll(/^(?:OFFPEAK_RETRY_AFTER=)?\s*(\d+(?:\.\d+)?)\s*$/gm)];
  const value = assignments.at(-1)?.[1];
  if (value === undefined) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) ? { retryAfterSeconds: seconds } : undefined;
}

/**
 * The object key of an attempt's retry marker in the Offpeak bucket. Under `outputs/`, which a job role may write
 * and which expires with the job's outputs; one key per attempt, so an old attempt's marker never applies to a
 * later one.
 */
export function retryMarkerKey(jobId: string, attempt: number): string {
  return `outputs/${jobId}/_offpeak/retry-after-${attempt}`;
}

/** The environment variable that tells a job where to write its marker. */
export const RETRY_MARKER_ENV = 'OFFPEAK_RETRY_MARKER';
