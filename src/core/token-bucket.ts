import { type RateLimit, refillPerSecond } from './rate-limit.js';

/** A token bucket as stored: its tokens when last written, and when that was (epoch ms). */
export interface TokenBucketState {
  readonly tokens: number;
  readonly updatedAtMs: number;
  /** No token is handed out before this time (epoch ms): a back-off after the executor throttled us. */
  readonly blockedUntilMs?: number;
}

/** The outcome of {@link takeTokens}: the bucket to write back, what was granted, and when to try again. */
export interface TokenTake {
  readonly state: TokenBucketState;
  /** Tokens granted, 0..requested. */
  readonly granted: number;
  /** When `granted` is 0: milliseconds until one token is available. 0 otherwise. */
  readonly retryAfterMs: number;
}

/** A bucket never written yet is full. */
export function fullBucket(rate: RateLimit, nowMs: number): TokenBucketState {
  return { tokens: rate.burst, updatedAtMs: nowMs };
}

/** The bucket's tokens at `nowMs`: refilled since its last write, capped at the burst. Pure. */
export function refill(state: TokenBucketState, rate: RateLimit, nowMs: number): TokenBucketState {
  const elapsedMs = Math.max(0, nowMs - state.updatedAtMs);
  const tokens = Math.min(rate.burst, state.tokens + (elapsedMs / 1000) * refillPerSecond(rate));
  return {
    tokens,
    updatedAtMs: Math.max(nowMs, state.updatedAtMs),
    ...(state.blockedUntilMs !== undefined && state.blockedUntilMs > nowMs
      ? { blockedUntilMs: state.blockedUntilMs }
      : {}),
  };
}

/**
 * Takes up to `requested` whole tokens (at least one, or none) at `nowMs`. Pure: the store writes the returned state
 * back conditionally on the state it read, so concurrent takers never share a token.
 *
 * @example
 * takeTokens({ tokens: 0, updatedAtMs: 0 }, { limit: 10, periodSeconds: 1, burst: 1 }, 50, 1)
 * // → { granted: 0, retryAfterMs: 50, … } (0.5 tokens after 50 ms; the next one is due at 100 ms)
 */
export function takeTokens(
  state: TokenBucketState,
  rate: RateLimit,
  nowMs: number,
  requested: number,
): TokenTake {
  const current = refill(state, rate, nowMs);
  if (current.blockedUntilMs !== undefined) {
    return { state: current, granted: 0, retryAfterMs: current.blockedUntilMs - nowMs };
  }
  // A hair of tolerance: 0.1 + 0.2 tokens must count as 0.3, not 0.29999.
  const whole = Math.floor(current.tokens + 1e-9);
  const granted = Math.max(0, Math.min(Math.floor(requested), whole));
  if (granted === 0) {
    const missing = 1 - current.tokens;
    return {
      state: current,
      granted: 0,
      retryAfterMs: Math.max(1, Math.ceil((missing / refillPerSecond(rate)) * 1000)),
    };
  }
  return { state: { ...current, tokens: current.tokens - granted }, granted, retryAfterMs: 0 };
}

/** The bucket after a throttling signal: empty, and handing out nothing for `pauseMs`. Pure. */
export function blockBucket(
  state: TokenBucketState,
  rate: RateLimit,
  nowMs: number,
  pauseMs: number,
): TokenBucketState {
  const current = refill(state, rate, nowMs);
  return {
    tokens: 0,
    updatedAtMs: current.updatedAtMs,
    blockedUntilMs: Math.max(current.blockedUntilMs ?? 0, nowMs + pauseMs),
  };
}
