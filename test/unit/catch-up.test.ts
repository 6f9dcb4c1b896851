import { describe, expect, it } from 'vitest';
import { type CatchUpPolicy, planFirings } from '../../src/core/triggers/catch-up.js';
import { parseScheduleExpression } from '../../src/core/triggers/schedule-expression.js';

const context = { timeZone: 'UTC', anchor: new Date('2026-01-01T00:00:00Z') };
const daily = parseScheduleExpression('cron(0 2 * * ? *)');
const hourly = parseScheduleExpression('cron(0 * * * ? *)');

function plan(
  expression: typeof daily,
  handledUntil: string,
  now: string,
  policy: CatchUpPolicy,
  limit?: number,
) {
  const result = planFirings({
    expression,
    context,
    handledUntil: new Date(handledUntil),
    now: new Date(now),
    policy,
    ...(limit !== undefined ? { limit } : {}),
  });
  return {
    firings: result.firings.map(
      (f) => `${f.scheduledTime.toISOString().slice(0, 16)}${f.catchUp ? ' catch-up' : ''}`,
    ),
    skipped: result.skipped,
  };
}

describe('planFirings (missed runs and the catch-up policy)', () => {
  // name, expression, handled until, now, policy, limit, expected firings, expected skipped
  const table: [string, typeof daily, string, string, CatchUpPolicy, number | undefined, string[], number][] =
    [
      ['nothing due', daily, '2026-01-05T03:00:00Z', '2026-01-05T10:00:00Z', 'none', undefined, [], 0],
      [
        'on time: an ordinary run',
        daily,
        '2026-01-05T01:59:00Z',
        '2026-01-05T02:00:00.050Z',
        'none',
        undefined,
        ['2026-01-05T02:00'],
        0,
      ],
      [
        'down 3 days, none: all skipped',
        daily,
        '2026-01-05T03:00:00Z',
        '2026-01-08T10:00:00Z',
        'none',
        undefined,
        [],
        3,
      ],
      [
        'down 3 days, latest: the newest missed run once',
        daily,
        '2026-01-05T03:00:00Z',
        '2026-01-08T10:00:00Z',
        'latest',
        undefined,
        ['2026-01-08T02:00 catch-up'],
        2,
      ],
      [
        'down 3 days, all: each, oldest first',
        daily,
        '2026-01-05T03:00:00Z',
        '2026-01-08T10:00:00Z',
        'all',
        undefined,
        ['2026-01-06T02:00 catch-up', '2026-01-07T02:00 catch-up', '2026-01-08T02:00 catch-up'],
        0,
      ],
      [
        'all up to its bound: the newest ones',
        daily,
        '2026-01-05T03:00:00Z',
        '2026-01-08T10:00:00Z',
        'all',
        2,
        ['2026-01-07T02:00 catch-up', '2026-01-08T02:00 catch-up'],
        1,
      ],
      [
        'latest with an ordinary run now: that run is enough',
        hourly,
        '2026-01-05T03:30:00Z',
        '2026-01-05T07:00:10Z',
        'latest',
        undefined,
        ['2026-01-05T07:00'],
        3,
      ],
      [
        'all with an ordinary run now: missed ones, then it',
        hourly,
        '2026-01-05T04:30:00Z',
        '2026-01-05T07:00:10Z',
        'all',
        undefined,
        ['2026-01-05T05:00 catch-up', '2026-01-05T06:00 catch-up', '2026-01-05T07:00'],
        0,
      ],
      [
        'a run due exactly at the cursor was handled',
        daily,
        '2026-01-05T02:00:00Z',
        '2026-01-05T02:00:30Z',
        'all',
        undefined,
        [],
        0,
      ],
    ];
  it.each(table)('%s', (_name, expression, handled, now, policy, limit, firings, skipped) => {
    expect(plan(expression, handled, now, policy, limit)).toEqual({ firings, skipped });
  });

  it('counts skipped runs of a minutely schedule down for a month only up to a bound', () => {
    const minutely = parseScheduleExpression('rate(1 minute)');
    const result = plan(minutely, '2026-01-01T00:00:00Z', '2026-02-01T00:00:30Z', 'none');
    expect(result.skipped).toBe(1000);
    expect(result.firings).toEqual(['2026-02-01T00:00']);
  });

  it('makes up a missed one-time run under latest', () => {
    const once = parseScheduleExpression('at(2026-01-05T09:00:00)');
    expect(plan(once, '2026-01-05T08:00:00Z', '2026-01-06T00:00:00Z', 'latest').firings).toEqual([
      '2026-01-05T09:00 catch-up',
    ]);
  });
});
