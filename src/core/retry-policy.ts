import { backoffDelayMs } from './backoff.js';
import type { RetrySpec } from './job-type.js';
import { matchesAnyReason } from './reason-pattern.js';

/** What to do after a failed attempt. */
export type RetryDecision =
  | { readonly kind: 'retry'; readonly delayMs: number; readonly reason: string }
  | { readonly kind: 'fail'; readonly reason: string };

export interface FailedAttempt {
  /** The attempt that just failed, counted within its attempt series (1 = the first; see `retryJob`). */
  readonly attempt: number;
  /** The container's exit code; absent when it never ran or was killed (timeout, host failure). */
  readonly exitCode?: number;
  readonly statusReason?: string;
  /** The delay the job asked for in its retry marker, in seconds (absent: no marker). */
  readonly retryAfterSeconds?: number;
  /** Why it asked (from the marker). */
  readonly retryAfterReason?: string;
}

/**
 * Pure retry decision for an application failure (infrastructure failures are retried by Batch's
 * `evaluateOnExit` before Offpeak ever sees them). First rule that applies wins:
 *
 * | # | when | decision |
 * |---|---|---|
 * | 1 | attempts of the series used up | fail |
 * | 2 | exit code in `nonRetryableExitCodes` | fail |
 * | 3 | status reason matches `nonRetryableReasons` | fail |
 * | 4 | a retry marker, or exit code in `retryAfterExitCodes` | retry after the marker's delay (capped at `maxRetryAfterSeconds`), else after the backoff |
 * | 5 | exit code given, `retryableExitCodes` set and not listing it | fail |
 * | 6 | no exit code, `retryableReasons` set and none matching | fail |
 * | 7 | otherwise | retry after exponential backoff with full jitter |
 */
export function decideRetry(
  spec: RetrySpec,
  failed: FailedAttempt,
  random: () => number = Math.random,
): RetryDecision {
  if (failed.attempt >= spec.attempts) {
    return { kind: 'fail', reason: `attempt ${failed.attempt} of ${spec.attempts} failed; no attempts left` };
  }
  const code = failed.exitCode;
  if (code !== undefined && spec.nonRetryableExitCodes.includes(code)) {
    return { kind: 'fail', reason: `exit code ${code} is not retryable` };
  }
  if (matchesAnyReason(spec.nonRetryableReasons, failed.statusReason)) {
    return { kind: 'fail', reason: `status reason "${failed.statusReason}" is not retryable` };
  }
  const backoff = () =>
    backoffDelayMs(
      { baseMs: spec.baseDelaySeconds * 1000, capMs: spec.maxDelaySeconds * 1000 },
      failed.attempt,
      random,
    );
  const of = `attempt ${failed.attempt} of ${spec.attempts} failed`;
  if (failed.retryAfterSeconds !== undefined) {
    const seconds = Math.min(Math.max(0, failed.retryAfterSeconds), spec.maxRetryAfterSeconds);
    const why = failed.retryAfterReason ? ` (${failed.retryAfterReason})` : '';
    return {
      kind: 'retry',
      delayMs: Math.round(seconds * 1000),
      reason: `${of}; the job asked to retry after ${seconds} s${why}`,
    };
  }
  if (code !== undefined && spec.retryAfterExitCodes.includes(code)) {
    return { kind: 'retry', delayMs: backoff(), reason: `${of}; exit code ${code} asks for a later retry` };
  }
  if (code !== undefined && spec.retryableExitCodes && !spec.retryableExitCodes.includes(code)) {
    return { kind: 'fail', reason: `exit code ${code} is not in retryableExitCodes` };
  }
  if (
    code === undefined &&
    spec.retryableReasons &&
    !matchesAnyReason(spec.retryableReasons, failed.statusReason)
  ) {
    return {
      kind: 'fail',
      reason: `status reason "${failed.statusReason ?? 'none'}" is not in retryableReasons`,
    };
  }
  return { kind: 'retry', delayMs: backoff(), reason: `${of}; retrying` };
}
