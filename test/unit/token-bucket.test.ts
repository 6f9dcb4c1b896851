import { describe, expect, it } from 'vitest';
import { RateLimitSchema } from '../../src/core/rate-limit.js';
import { blockBucket, fullBucket, refill, takeTokens } from '../../src/core/token-bucket.js';

const rate = (limit: number, periodSeconds: number, burst?: number) =>
  RateLimitSchema.parse({ limit, periodSeconds, ...(burst !== undefined ? { burst } : {}) });

describe('token bucket (fake clock)', () => {
  it('starts full, hands out up to the burst, then one token per 1/rate', () => {
    const r = rate(10, 1, 3); // 10 a second, 3 at once
    let state = fullBucket(r, 0);
    let take = takeTokens(state, r, 0, 5);
    expect(take.granted).toBe(3);
    state = take.state;
    take = takeTokens(state, r, 0, 1);
    expect(take).toMatchObject({ granted: 0, retryAfterMs: 100 });
    take = takeTokens(state, r, 99, 1);
    expect(take.granted).toBe(0);
    take = takeTokens(state, r, 100, 1);
    expect(take.granted).toBe(1);
  });

  it('never lets more than limit + burst start in any window of one period', () => {
    const r = rate(6, 60); // 6 a minute, burst 1
    let state = fullBucket(r, 0);
    const starts: number[] = [];
    for (let t = 0; t <= 600_000; t += 250) {
      const take = takeTokens(state, r, t, 1);
      if (take.granted > 0) {
        starts.push(t);
        state = take.state;
      }
    }
    expect(starts).toHaveLength(61); // one at t=0, then one every 10 s
    for (const start of starts) {
      const inWindow = starts.filter((t) => t >= start && t < start + 60_000).length;
      expect(inWindow).toBeLessThanOrEqual(6 + 1);
    }
    expect(starts.slice(0, 3)).toEqual([0, 10_000, 20_000]);
  });

  it('refills to the burst at most, and tolerates clocks going backwards', () => {
    const r = rate(1, 1, 5);
    expect(refill({ tokens: 0, updatedAtMs: 0 }, r, 60_000).tokens).toBe(5);
    const backwards = refill({ tokens: 2, updatedAtMs: 10_000 }, r, 5_000);
    expect(backwards).toEqual({ tokens: 2, updatedAtMs: 10_000 });
  });

  it('counts fractional refills exactly enough to grant a whole token', () => {
    const r = rate(3, 1, 1); // one token every 333.3 ms
    const take = takeTokens({ tokens: 0, updatedAtMs: 0 }, r, 334, 1);
    expect(take.granted).toBe(1);
    expect(takeTokens({ tokens: 0, updatedAtMs: 0 }, r, 300, 1)).toMatchObject({
      granted: 0,
      retryAfterMs: 34,
    });
  });

  it('blocks everyone for a back-off after throttling, then refills from empty', () => {
    const r = rate(40, 1, 40);
    const blocked = blockBucket(fullBucket(r, 0), r, 1_000, 2_000);
    expect(blocked).toEqual({ tokens: 0, updatedAtMs: 1_000, blockedUntilMs: 3_000 });
    expect(takeTokens(blocked, r, 2_500, 1)).toMatchObject({ granted: 0, retryAfterMs: 500 });
    const after = takeTokens(blocked, r, 3_000, 100);
    expect(after.granted).toBe(40);
    expect(after.state.blockedUntilMs).toBeUndefined();
  });
});
