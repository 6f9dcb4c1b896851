/** Exponential backoff with full jitter and a cap (AWS Architecture Blog, "Exponential Backoff And Jitter"). */
export interface BackoffPolicy {
  /** Delay scale for the first retry, in milliseconds. */
  readonly baseMs: number;
  /** Upper bound of any single delay, in milliseconds. */
  readonly capMs: number;
}

/**
 * Delay before retry number `retry` (1 = the first retry): a uniformly random value in
 * `[0, min(cap, base * 2^(retry-1))]`.
 *
 * @param random a source of uniform numbers in [0, 1); injectable for table-driven tests.
 * @example backoffDelayMs({ baseMs: 1000, capMs: 60_000 }, 3) // somewhere in [0, 4000]
 */
export function backoffDelayMs(
  policy: BackoffPolicy,
  retry: number,
  random: () => number = Math.random,
): number {
  if (!Number.isInteger(retry) || retry < 1)
    throw new RangeError(`retry must be an integer >= 1, got ${retry}`);
  const ceiling = maxBackoffDelayMs(policy, retry);
  return Math.floor(random() * (ceiling + 1));
}

/** The largest delay `backoffDelayMs` can return for `retry` (the jitter window). */
export function maxBackoffDelayMs(policy: BackoffPolicy, retry: number): number {
  // 2^(retry-1) overflows to Infinity for large retries; Math.min keeps it at the cap.
  return Math.min(policy.capMs, policy.baseMs * 2 ** (retry - 1));
}
