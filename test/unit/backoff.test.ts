import { describe, expect, it } from 'vitest';
import { backoffDelayMs, maxBackoffDelayMs } from '../../src/core/backoff.js';
import { RetrySpecSchema } from '../../src/core/job-type.js';
import { decideRetry } from '../../src/core/retry-policy.js';

const policy = { baseMs: 1000, capMs: 30_000 };

describe('backoffDelayMs (exponential, full jitter, cap)', () => {
  it.each([
    // retry, random, expected
    [1, 0, 0],
    [1, 0.5, 500],
    [1, 0.999_999, 1000],
    [2, 0.999_999, 2000],
    [3, 0.25, 1000],
    [5, 0.999_999, 16_000],
    [6, 0.999_999, 30_000], // 32 s capped at 30 s
    [60, 0.5, 15_000], // 2^59 s overflows the cap, never Infinity
    [2000, 0.999_999, 30_000],
  ])('retry %i with random %f → %i ms', (retry, random, expected) => {
    expect(backoffDelayMs(policy, retry, () => random)).toBe(expected);
  });

  it('stays inside [0, min(cap, base·2^(n-1))] for many draws', () => {
    for (let retry = 1; retry <= 12; retry++) {
      const ceiling = maxBackoffDelayMs(policy, retry);
      for (let i = 0; i < 200; i++) {
        const delay = backoffDelayMs(policy, retry);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(ceiling);
      }
    }
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects retry number %s', (retry) => {
    expect(() => backoffDelayMs(policy, retry)).toThrow(RangeError);
  });
});

describe('decideRetry', () => {
  const spec = RetrySpecSchema.parse({
    attempts: 3,
    baseDelaySeconds: 10,
    maxDelaySeconds: 60,
    nonRetryableExitCodes: [2],
  });
  const half = () => 0.5;

  it.each([
    { attempt: 1, exitCode: 1, kind: 'retry', delayMs: 5000 },
    { attempt: 2, exitCode: 1, kind: 'retry', delayMs: 10_000 },
    { attempt: 3, exitCode: 1, kind: 'fail' },
    { attempt: 1, exitCode: 2, kind: 'fail' },
    { attempt: 1, exitCode: undefined, kind: 'retry', delayMs: 5000 },
  ])('attempt $attempt, exit $exitCode → $kind', ({ attempt, exitCode, kind, delayMs }) => {
    const decision = decideRetry(spec, { attempt, ...(exitCode !== undefined ? { exitCode } : {}) }, half);
    expect(decision.kind).toBe(kind);
    if (decision.kind === 'retry') expect(decision.delayMs).toBe(delayMs);
  });

  it('retries only listed codes when retryableExitCodes is set', () => {
    const only75 = RetrySpecSchema.parse({ attempts: 5, retryableExitCodes: [75] });
    expect(decideRetry(only75, { attempt: 1, exitCode: 75 }, half).kind).toBe('retry');
    expect(decideRetry(only75, { attempt: 1, exitCode: 1 }, half).kind).toBe('fail');
  });

  it('never retries a single-attempt type', () => {
    expect(decideRetry(RetrySpecSchema.parse({ attempts: 1 }), { attempt: 1, exitCode: 1 }).kind).toBe(
      'fail',
    );
  });
});
