import { backoffDelayMs } from './backoff.js';
import type { RetrySpec } from './job-type.js';

/** What to do after a failed attempt. */
export type RetryDecision =
  | { readonly kind: 'retry'; readonly delayMs: number; readonly reason: string }
  | { readonly kind: 'fail'; readonly reason: string };

export interface FailedAttempt {
  /** The attempt that just failed (1 = the first). */
  readonly attempt: number;
  /** The container's exit code; absent when it never ran or was killed (timeout, host failure). */
  readonly exitCode?: number;
  readonly statusReason?: string;
}

/**
 * Pure retry decision for an application failure (infrastructure failures are retried by Batch's
 * `evaluateOnExit` before Offpeak ever sees them).
 *
 * - attempts exhausted → fail;
 * - exit code listed as non-retryable → fail (bad input does not get better);
 * - `retryableExitCodes` given and the code is not in it → fail;
 * - otherwise (including no exit code: timeout, lost host) → retry after exponential backoff with full jitter.
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
  if (code !== undefined && spec.retryableExitCodes && !spec.retryableExitCodes.includes(code)) {
    return { kind: 'fail', reason: `exit code ${code} is not in retryableExitCodes` };
  }
  const delayMs = backoffDelayMs(
    { baseMs: spec.baseDelaySeconds * 1000, capMs: spec.maxDelaySeconds * 1000 },
    failed.attempt,
    random,
  );
  return { kind: 'retry', delayMs, reason: `attempt ${failed.attempt} of ${spec.attempts} failed; retrying` };
}
