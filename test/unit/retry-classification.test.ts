import { describe, expect, it } from 'vitest';
import { RetrySpecSchema } from '../../src/core/job-type.js';
import { matchesAnyReason, matchesReasonPattern } from '../../src/core/reason-pattern.js';
import { parseRetryMarker, retryMarkerKey } from '../../src/core/retry-marker.js';
import { decideRetry, type FailedAttempt } from '../../src/core/retry-policy.js';

describe('matchesReasonPattern', () => {
  it.each([
    ['Host EC2*', 'Host EC2 (instance i-123) terminated.', true],
    ['Host EC2*', 'host EC2 (instance i-123) terminated.', false], // case-sensitive, like Batch
    ['Terminated: *', 'Terminated: Cancelled by user', true],
    ['*timeout', 'Job attempt duration exceeded timeout', true],
    ['*duration*', 'Job attempt duration exceeded timeout', true],
    ['Job attempt duration exceeded timeout', 'Job attempt duration exceeded timeout', true],
    ['Job attempt duration exceeded timeout', 'Job attempt duration exceeded timeout!', false],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'acb', false],
    ['ab*ba', 'aba', false], // the prefix and suffix must not overlap
    ['*', '', true],
    ['*', 'anything at all', true],
    ['a**b', 'ab', true],
    ['x(.*)+$', 'x(.*)+$', true], // regex characters are literal: nothing here can be slow
    ['x(.*)+$', 'xyz', false],
  ])('%j matches %j: %s', (pattern, reason, expected) => {
    expect(matchesReasonPattern(pattern, reason)).toBe(expected);
  });

  it('never matches an absent reason', () => {
    expect(matchesAnyReason(['*'], undefined)).toBe(false);
    expect(matchesAnyReason([], 'x')).toBe(false);
  });
});

describe('parseRetryMarker', () => {
  it.each([
    ['120', { retryAfterSeconds: 120 }],
    ['  120\n', { retryAfterSeconds: 120 }],
    ['1.5', { retryAfterSeconds: 1.5 }],
    ['OFFPEAK_RETRY_AFTER=45', { retryAfterSeconds: 45 }],
    ['some log line\nOFFPEAK_RETRY_AFTER=10\nOFFPEAK_RETRY_AFTER=30\n', { retryAfterSeconds: 30 }],
    ['{"retryAfterSeconds": 90}', { retryAfterSeconds: 90 }],
    [
      '{"retryAfterSeconds": 90, "reason": "429 from rates API"}',
      { retryAfterSeconds: 90, reason: '429 from rates API' },
    ],
    ['', undefined],
    ['soon', undefined],
    ['-5', undefined],
    ['{"retryAfterSeconds": -1}', undefined],
    ['{"retryAfterSeconds": "90"}', undefined],
    ['{not json', undefined],
    ['OFFPEAK_RETRY_AFTER=', undefined],
    [`${'9'.repeat(5000)}`, undefined],
  ])('%j → %j', (text, expected) => {
    expect(parseRetryMarker(text)).toEqual(expected);
  });

  it('keys each attempt apart, under outputs/', () => {
    expect(retryMarkerKey('01J', 2)).toBe('outputs/01J/_offpeak/retry-after-2');
    expect(retryMarkerKey('01J', 3)).not.toBe(retryMarkerKey('01J', 2));
  });
});

describe('decideRetry: the classification table', () => {
  const spec = RetrySpecSchema.parse({
    attempts: 4,
    baseDelaySeconds: 10,
    maxDelaySeconds: 60,
    nonRetryableExitCodes: [2],
    retryableExitCodes: [1, 3],
    retryAfterExitCodes: [75],
    maxRetryAfterSeconds: 600,
    nonRetryableReasons: ['Job attempt duration exceeded timeout', 'Terminated: Poison*'],
    retryableReasons: ['Host EC2*', 'Executor job not found*'],
  });
  const half = () => 0.5;
  const rows: [string, FailedAttempt, 'retry' | 'fail', number | undefined, RegExp][] = [
    [
      'attempts used up wins over a marker',
      { attempt: 4, exitCode: 75, retryAfterSeconds: 5 },
      'fail',
      undefined,
      /no attempts left/,
    ],
    [
      'non-retryable exit code',
      { attempt: 1, exitCode: 2 },
      'fail',
      undefined,
      /exit code 2 is not retryable/,
    ],
    [
      'non-retryable exit code wins over a marker',
      { attempt: 1, exitCode: 2, retryAfterSeconds: 5 },
      'fail',
      undefined,
      /not retryable/,
    ],
    [
      'non-retryable reason',
      { attempt: 1, statusReason: 'Job attempt duration exceeded timeout' },
      'fail',
      undefined,
      /status reason/,
    ],
    [
      'non-retryable reason pattern wins over a marker',
      { attempt: 1, exitCode: 1, statusReason: 'Terminated: Poison pill', retryAfterSeconds: 5 },
      'fail',
      undefined,
      /not retryable/,
    ],
    [
      'marker: its delay',
      { attempt: 1, exitCode: 75, retryAfterSeconds: 120 },
      'retry',
      120_000,
      /asked to retry after 120 s/,
    ],
    [
      'marker on a code retryableExitCodes does not list',
      { attempt: 1, exitCode: 9, retryAfterSeconds: 30 },
      'retry',
      30_000,
      /asked/,
    ],
    [
      'marker delay is capped',
      { attempt: 1, exitCode: 75, retryAfterSeconds: 10_000 },
      'retry',
      600_000,
      /after 600 s/,
    ],
    ['marker of zero seconds', { attempt: 2, exitCode: 75, retryAfterSeconds: 0 }, 'retry', 0, /after 0 s/],
    [
      'retry-after exit code without marker: backoff',
      { attempt: 1, exitCode: 75 },
      'retry',
      5_000,
      /exit code 75 asks/,
    ],
    ['retryable exit code: backoff', { attempt: 2, exitCode: 3 }, 'retry', 10_000, /retrying/],
    [
      'exit code not in retryableExitCodes',
      { attempt: 1, exitCode: 9 },
      'fail',
      undefined,
      /not in retryableExitCodes/,
    ],
    [
      'no exit code, retryable reason',
      { attempt: 1, statusReason: 'Host EC2 (instance i-1) terminated.' },
      'retry',
      5_000,
      /retrying/,
    ],
    [
      'no exit code, reason not listed',
      { attempt: 1, statusReason: 'Essential container in task exited' },
      'fail',
      undefined,
      /not in retryableReasons/,
    ],
    ['no exit code, no reason, retryableReasons set', { attempt: 1 }, 'fail', undefined, /"none"/],
  ];
  it.each(rows)('%s', (_what, failed, kind, delayMs, reason) => {
    const decision = decideRetry(spec, failed, half);
    expect(decision.kind).toBe(kind);
    expect(decision.reason).toMatch(reason);
    if (decision.kind === 'retry') expect(decision.delayMs).toBe(delayMs);
  });

  it('keeps the defaults of a spec without any classification (every failure retried)', () => {
    const plain = RetrySpecSchema.parse({ attempts: 2, baseDelaySeconds: 10 });
    expect(plain).toMatchObject({
      retryAfterExitCodes: [],
      nonRetryableReasons: [],
      maxRetryAfterSeconds: 86_400,
    });
    expect(plain.retryableReasons).toBeUndefined();
    for (const failed of [{ attempt: 1, exitCode: 9 }, { attempt: 1 }, { attempt: 1, statusReason: 'x' }]) {
      expect(decideRetry(plain, failed, half).kind).toBe('retry');
    }
  });

  it('refuses a spec with an empty reason pattern or a negative cap', () => {
    expect(RetrySpecSchema.safeParse({ nonRetryableReasons: [''] }).success).toBe(false);
    expect(RetrySpecSchema.safeParse({ maxRetryAfterSeconds: -1 }).success).toBe(false);
  });
});
