import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import {
  atExpression,
  nextFireTime,
  parseScheduleExpression,
  previousFireTime,
  scheduledTimeText,
  upcomingFireTimes,
} from '../../src/core/triggers/schedule-expression.js';
import { assertTimeZone, instantOf } from '../../src/core/triggers/zoned-time.js';

const anchor = new Date('2026-01-01T00:00:00Z');
const next = (expression: string, timeZone: string, after: string, count = 3) =>
  upcomingFireTimes(parseScheduleExpression(expression), { timeZone, anchor }, new Date(after), count).map(
    (d) => d.toISOString(),
  );

describe('AWS cron → fire times', () => {
  // Prepare / Act / Assess in one table: expression, time zone, after, the next fire times (UTC).
  const table: [string, string, string, string, string[]][] = [
    [
      'every day 02:00 UTC',
      'cron(0 2 * * ? *)',
      'UTC',
      '2026-11-23T10:00:00Z',
      ['2026-11-24T02:00:00.000Z', '2026-11-25T02:00:00.000Z', '2026-11-26T02:00:00.000Z'],
    ],
    [
      'day-of-week 2-6 = MON-FRI (1 = SUN)',
      'cron(30 8 ? * 2-6 *)',
      'UTC',
      '2026-11-20T09:00:00Z',
      ['2026-11-23T08:30:00.000Z', '2026-11-24T08:30:00.000Z', '2026-11-25T08:30:00.000Z'],
    ],
    [
      'names MON-FRI mean the same',
      'cron(30 8 ? * MON-FRI *)',
      'UTC',
      '2026-11-20T09:00:00Z',
      ['2026-11-23T08:30:00.000Z', '2026-11-24T08:30:00.000Z', '2026-11-25T08:30:00.000Z'],
    ],
    [
      '1 is Sunday',
      'cron(0 12 ? * 1 *)',
      'UTC',
      '2026-11-23T00:00:00Z',
      ['2026-11-29T12:00:00.000Z', '2026-12-06T12:00:00.000Z', '2026-12-13T12:00:00.000Z'],
    ],
    [
      '7 is Saturday, as is L alone',
      'cron(0 12 ? * L *)',
      'UTC',
      '2026-11-23T00:00:00Z',
      ['2026-11-28T12:00:00.000Z', '2026-12-05T12:00:00.000Z', '2026-12-12T12:00:00.000Z'],
    ],
    [
      'last day of the month (L)',
      'cron(0 0 L * ? *)',
      'UTC',
      '2026-01-15T00:00:00Z',
      ['2026-01-31T00:00:00.000Z', '2026-02-28T00:00:00.000Z', '2026-03-31T00:00:00.000Z'],
    ],
    [
      'leap year February',
      'cron(0 0 L 2 ? *)',
      'UTC',
      '2027-03-01T00:00:00Z',
      ['2028-02-29T00:00:00.000Z', '2029-02-28T00:00:00.000Z', '2030-02-28T00:00:00.000Z'],
    ],
    [
      'last weekday of the month (LW)',
      'cron(0 18 LW * ? *)',
      'UTC',
      '2026-01-01T00:00:00Z',
      ['2026-01-30T18:00:00.000Z', '2026-02-27T18:00:00.000Z', '2026-03-31T18:00:00.000Z'],
    ],
    [
      'nearest weekday (15W; Sat 15 Aug → Fri 14)',
      'cron(0 9 15W * ? *)',
      'UTC',
      '2026-07-20T00:00:00Z',
      ['2026-08-14T09:00:00.000Z', '2026-09-15T09:00:00.000Z', '2026-10-15T09:00:00.000Z'],
    ],
    [
      '1W on a Saturday stays in the month (Mon 3rd)',
      'cron(0 9 1W 8 ? *)',
      'UTC',
      '2026-01-01T00:00:00Z',
      ['2026-08-03T09:00:00.000Z', '2027-08-02T09:00:00.000Z', '2028-08-01T09:00:00.000Z'],
    ],
    [
      'second Tuesday (3#2)',
      'cron(0 10 ? * 3#2 *)',
      'UTC',
      '2026-01-01T00:00:00Z',
      ['2026-01-13T10:00:00.000Z', '2026-02-10T10:00:00.000Z', '2026-03-10T10:00:00.000Z'],
    ],
    [
      'fifth Friday only where there is one (6#5)',
      'cron(0 10 ? * 6#5 *)',
      'UTC',
      '2026-01-01T00:00:00Z',
      ['2026-01-30T10:00:00.000Z', '2026-05-29T10:00:00.000Z', '2026-07-31T10:00:00.000Z'],
    ],
    [
      'last Friday (6L)',
      'cron(0 17 ? * 6L *)',
      'UTC',
      '2026-01-01T00:00:00Z',
      ['2026-01-30T17:00:00.000Z', '2026-02-27T17:00:00.000Z', '2026-03-27T17:00:00.000Z'],
    ],
    [
      'steps from a start (5/20)',
      'cron(5/20 * * * ? *)',
      'UTC',
      '2026-01-01T00:00:00Z',
      ['2026-01-01T00:05:00.000Z', '2026-01-01T00:25:00.000Z', '2026-01-01T00:45:00.000Z'],
    ],
    [
      'stepped range and list',
      'cron(0 8-12/2,20 * * ? *)',
      'UTC',
      '2026-01-01T09:00:00Z',
      ['2026-01-01T10:00:00.000Z', '2026-01-01T12:00:00.000Z', '2026-01-01T20:00:00.000Z'],
    ],
    [
      'months by name, day list',
      'cron(0 0 1,15 JAN,JUL ? *)',
      'UTC',
      '2026-02-01T00:00:00Z',
      ['2026-07-01T00:00:00.000Z', '2026-07-15T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
    ],
    [
      'year field bounds the schedule',
      'cron(0 0 1 1 ? 2027-2028)',
      'UTC',
      '2026-06-01T00:00:00Z',
      ['2027-01-01T00:00:00.000Z', '2028-01-01T00:00:00.000Z'],
    ],
    [
      'time zone: 02:00 Berlin in winter is 01:00 UTC',
      'cron(0 2 * * ? *)',
      'Europe/Berlin',
      '2026-01-10T12:00:00Z',
      ['2026-01-11T01:00:00.000Z', '2026-01-12T01:00:00.000Z', '2026-01-13T01:00:00.000Z'],
    ],
    [
      'half-hour zone',
      'cron(0 9 * * ? *)',
      'Asia/Kolkata',
      '2026-01-10T12:00:00Z',
      ['2026-01-11T03:30:00.000Z', '2026-01-12T03:30:00.000Z', '2026-01-13T03:30:00.000Z'],
    ],
    [
      'DST spring: 02:30 does not exist on 8 March in New York: skipped',
      'cron(30 2 * * ? *)',
      'America/New_York',
      '2026-03-07T00:00:00Z',
      ['2026-03-07T07:30:00.000Z', '2026-03-09T06:30:00.000Z', '2026-03-10T06:30:00.000Z'],
    ],
    [
      'DST autumn: 01:30 happens twice on 1 Nov in New York: runs once',
      'cron(30 1 * * ? *)',
      'America/New_York',
      '2026-10-31T00:00:00Z',
      ['2026-10-31T05:30:00.000Z', '2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z'],
    ],
    [
      'DST autumn, hourly: the repeated hour does not fire again',
      'cron(0 * * * ? *)',
      'Europe/Berlin',
      '2026-10-24T23:30:00Z',
      ['2026-10-25T00:00:00.000Z', '2026-10-25T02:00:00.000Z', '2026-10-25T03:00:00.000Z'],
    ],
    [
      'DST spring, hourly in Berlin: 02:00 is skipped',
      'cron(0 * * * ? *)',
      'Europe/Berlin',
      '2026-03-29T00:30:00Z',
      ['2026-03-29T01:00:00.000Z', '2026-03-29T02:00:00.000Z', '2026-03-29T03:00:00.000Z'],
    ],
    [
      'Lord Howe moves 30 minutes: 02:15 on 4 Oct does not exist',
      'cron(15 2 * * ? *)',
      'Australia/Lord_Howe',
      '2026-10-03T00:00:00Z',
      ['2026-10-04T15:15:00.000Z', '2026-10-05T15:15:00.000Z', '2026-10-06T15:15:00.000Z'],
    ],
    [
      'Lord Howe, the day before: +10:30',
      'cron(15 2 * * ? *)',
      'Australia/Lord_Howe',
      '2026-10-01T00:00:00Z',
      ['2026-10-01T15:45:00.000Z', '2026-10-02T15:45:00.000Z', '2026-10-04T15:15:00.000Z'],
    ],
    ['never again: Feb 30', 'cron(0 0 30 2 ? *)', 'UTC', '2026-01-01T00:00:00Z', []],
    [
      'rate: from the anchor, every interval',
      'rate(6 hours)',
      'UTC',
      '2026-01-01T07:00:00Z',
      ['2026-01-01T12:00:00.000Z', '2026-01-01T18:00:00.000Z', '2026-01-02T00:00:00.000Z'],
    ],
    [
      'rate: first run one interval after the anchor',
      'rate(1 day)',
      'UTC',
      '2025-06-01T00:00:00Z',
      ['2026-01-02T00:00:00.000Z', '2026-01-03T00:00:00.000Z', '2026-01-04T00:00:00.000Z'],
    ],
    [
      'at: once, in its time zone',
      'at(2026-12-24T18:00:00)',
      'Europe/Berlin',
      '2026-01-01T00:00:00Z',
      ['2026-12-24T17:00:00.000Z'],
    ],
    ['at: past', 'at(2025-12-24T18:00:00)', 'UTC', '2026-01-01T00:00:00Z', []],
  ];
  it.each(table)('%s: %s in %s after %s', (_name, expression, timeZone, after, expected) => {
    expect(next(expression, timeZone, after, 3)).toEqual(expected);
  });

  it('finds the previous run, including one in the repeated hour', () => {
    const expression = parseScheduleExpression('cron(*/30 * * * ? *)');
    // 06:10Z is 01:10 EST, inside the repeated hour; the last run was 01:30 EDT (05:30Z).
    const previous = previousFireTime(
      expression,
      { timeZone: 'America/New_York', anchor },
      new Date('2026-11-01T06:10:00Z'),
    );
    expect(previous?.toISOString()).toBe('2026-11-01T05:30:00.000Z');
    expect(
      previousFireTime(
        expression,
        { timeZone: 'UTC', anchor },
        new Date('2026-01-01T10:30:00Z'),
      )?.toISOString(),
    ).toBe('2026-01-01T10:30:00.000Z');
  });

  it('next after a run is the one after (never the same instant)', () => {
    const expression = parseScheduleExpression('cron(0 2 * * ? *)');
    const first = nextFireTime(expression, { timeZone: 'UTC', anchor }, new Date('2026-01-01T00:00:00Z'))!;
    expect(nextFireTime(expression, { timeZone: 'UTC', anchor }, first)?.getTime()).toBe(
      first.getTime() + 86_400_000,
    );
  });
});

describe('invalid expressions', () => {
  const table: [string, RegExp][] = [
    ['cron(0 2 * * *)', /expected 6 fields/],
    ['cron(0 2 * * * *)', /one of day-of-month and day-of-week must be "\?"/],
    ['cron(0 2 ? * ? *)', /cannot both be "\?"/],
    ['cron(60 2 * * ? *)', /minutes: 60 is out of range 0-59/],
    ['cron(0 24 * * ? *)', /hours: 24 is out of range 0-23/],
    ['cron(0 2 ? * 0 *)', /day-of-week: 0 is out of range 1-7 \(1 = SUN/],
    ['cron(0 2 ? * 8 *)', /day-of-week: 8 is out of range/],
    ['cron(0 2 32 * ? *)', /day-of-month: 32 is out of range 1-31/],
    ['cron(0 2 * 13 ? *)', /month: 13 is out of range 1-12/],
    ['cron(0 2 * * ? 1969)', /year: 1969 is out of range 1970-2199/],
    ['cron(0 2 * FOO ? *)', /month: "FOO" is not a number or a name/],
    ['cron(0 22-2 * * ? *)', /runs backwards/],
    ['cron(*/0 * * * ? *)', /step 0 must be 1-60/],
    ['cron(0 ? * * ? *)', /hours: "\?" is only allowed/],
    ['cron(0 2 1,L * ? *)', /L and W stand alone/],
    ['cron(0 2 ? * 3#6 *)', /must be 1-5/],
    ['cron(0 2 ? * 2,L *)', /L and # stand alone/],
    ['rate(0 minutes)', /positive integer/],
    ['rate(1 minutes)', /singular/],
    ['rate(5 hour)', /plural/],
    ['rate(5 weeks)', /expected rate/],
    ['at(2026-02-30T10:00:00)', /not a valid date/],
    ['at(2026-02-10T10:00:00Z)', /without zone or offset/],
    ['every day', /expected cron/],
  ];
  it.each(table)('%s is refused: %s', (expression, reason) => {
    let error: unknown;
    try {
      parseScheduleExpression(expression);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).code).toBe('InvalidScheduleExpression');
    expect((error as Error).message).toMatch(reason);
  });
});

describe('time zones', () => {
  it.each(['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'US/Eastern'])(
    'accepts %s',
    (zone) => {
      expect(() => assertTimeZone(zone)).not.toThrow();
    },
  );
  it.each(['Mars/Olympus', 'europe/berlin', '', 'Europe/Berlin '])('refuses "%s"', (zone) => {
    expect(() => assertTimeZone(zone)).toThrow(expect.objectContaining({ code: 'UnknownTimeZone' }));
  });
  it('resolves a wall time that does not exist to nothing, and a repeated one to its first occurrence', () => {
    expect(
      instantOf({ year: 2026, month: 3, day: 29, hour: 2, minute: 30 }, 'Europe/Berlin'),
    ).toBeUndefined();
    expect(
      instantOf({ year: 2026, month: 10, day: 25, hour: 2, minute: 30 }, 'Europe/Berlin')?.toISOString(),
    ).toBe('2026-10-25T00:30:00.000Z');
  });
});

describe('helpers', () => {
  it('writes runAt as a UTC at() rounded up to the second, and scheduled times as Scheduler does', () => {
    expect(atExpression(new Date('2026-11-23T10:00:00.200Z'))).toBe('at(2026-11-23T10:00:01)');
    expect(atExpression(new Date('2026-11-23T10:00:00.000Z'))).toBe('at(2026-11-23T10:00:00)');
    expect(scheduledTimeText(new Date('2022-03-22T18:59:43.000Z'))).toBe('2022-03-22T18:59:43Z');
  });
});
