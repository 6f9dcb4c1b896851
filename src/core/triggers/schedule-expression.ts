import { ValidationError } from '../errors.js';
import { type AwsCron, CRON_YEARS, cronWallTimes, parseAwsCron } from './aws-cron.js';
import { instantOf, type WallTime, wallEpoch, wallTimeOf } from './zoned-time.js';

/**
 * An EventBridge Scheduler schedule expression, parsed:
 * - `cron(minutes hours day-of-month month day-of-week year)` in the schedule's time zone;
 * - `rate(value unit)` with unit minute(s) | hour(s) | day(s) (singular exactly when the value is 1);
 * - `at(yyyy-mm-ddThh:mm:ss)`: once, at that wall-clock time in the schedule's time zone.
 */
export type ScheduleExpression =
  | { readonly kind: 'cron'; readonly text: string; readonly cron: AwsCron }
  | {
      readonly kind: 'rate';
      readonly text: string;
      readonly value: number;
      readonly unit: 'minute' | 'hour' | 'day';
      readonly intervalMs: number;
    }
  | { readonly kind: 'at'; readonly text: string; readonly wall: Required<WallTime> };

/** Scheduler's limit on the expression's length. */
export const MAX_EXPRESSION_LENGTH = 256;

const UNIT_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;

/**
 * Parses a schedule expression as EventBridge Scheduler accepts it.
 *
 * @example parseScheduleExpression('cron(0 2 * * ? *)') // every day at 02:00
 * @example parseScheduleExpression('rate(15 minutes)')
 * @example parseScheduleExpression('at(2026-12-24T18:00:00)')
 * @throws ValidationError `InvalidScheduleExpression` with the reason
 */
export function parseScheduleExpression(text: string): ScheduleExpression {
  const trimmed = text.trim();
  if (trimmed.length > MAX_EXPRESSION_LENGTH) {
    throw invalid(text, `longer than ${MAX_EXPRESSION_LENGTH} characters`);
  }
  const match = /^(cron|rate|at)\((.*)\)$/s.exec(trimmed);
  if (!match) throw invalid(text, 'expected cron(…), rate(…) or at(…)');
  const [, kind, body] = match as unknown as [string, 'cron' | 'rate' | 'at', string];
  if (kind === 'cron') return { kind, text: trimmed, cron: parseAwsCron(body) };
  if (kind === 'rate') {
    const rate = /^\s*(\d+)\s+(minutes?|hours?|days?)\s*$/.exec(body);
    if (!rate) throw invalid(text, 'expected rate(<positive integer> minute(s)|hour(s)|day(s))');
    const value = Number(rate[1]);
    const word = rate[2]!;
    const unit = word.replace(/s$/, '') as 'minute' | 'hour' | 'day';
    if (value < 1) throw invalid(text, 'the rate must be a positive integer');
    if ((value === 1) !== (word === unit)) {
      throw invalid(
        text,
        value === 1 ? `write "1 ${unit}" (singular)` : `write "${value} ${unit}s" (plural)`,
      );
    }
    return { kind, text: trimmed, value, unit, intervalMs: value * UNIT_MS[unit] };
  }
  const at = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(body);
  if (!at) throw invalid(text, 'expected at(yyyy-mm-ddThh:mm:ss), a local time without zone or offset');
  const [year, month, day, hour, minute, second] = at.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const wall = { year, month, day, hour, minute, second };
  const check = new Date(wallEpoch(wall));
  if (
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() + 1 !== month ||
    check.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    throw invalid(text, 'not a valid date and time');
  }
  if (year < CRON_YEARS.min || year > CRON_YEARS.max) {
    throw invalid(text, `the year must be ${CRON_YEARS.min}-${CRON_YEARS.max}`);
  }
  return { kind, text: trimmed, wall };
}

/** The expression of a one-time run at an instant, in UTC: `at(2026-11-23T02:00:00)`. */
export function atExpression(instant: Date): string {
  // Whole seconds, rounded up: a held job never starts before its time.
  const seconds = new Date(Math.ceil(instant.getTime() / 1000) * 1000);
  return `at(${seconds.toISOString().slice(0, 19)})`;
}

/** Where a schedule's times are computed: its time zone, and for `rate` the instant the intervals count from. */
export interface FireTimeContext {
  readonly timeZone: string;
  /** `rate` schedules fire at anchor + k × interval, k ≥ 1 (the schedule's creation time). */
  readonly anchor: Date;
}

/** How far a daylight-saving transition can move a wall clock (the largest in use is 2 hours). */
const MAX_SHIFT_MS = 3 * 3_600_000;

/**
 * The first time the schedule fires strictly after `after`, or undefined when it never fires again. Wall-clock
 * times that do not exist in the time zone (clocks going forward) are skipped; times that happen twice (clocks
 * going back) fire once, at the first occurrence: EventBridge Scheduler's rules.
 */
export function nextFireTime(
  expression: ScheduleExpression,
  context: FireTimeContext,
  after: Date,
): Date | undefined {
  switch (expression.kind) {
    case 'at': {
      const instant = instantOf(expression.wall, context.timeZone);
      return instant && instant.getTime() > after.getTime() ? instant : undefined;
    }
    case 'rate': {
      const anchor = context.anchor.getTime();
      const k = Math.max(1, Math.floor((after.getTime() - anchor) / expression.intervalMs) + 1);
      return new Date(anchor + k * expression.intervalMs);
    }
    case 'cron': {
      const start = wallTimeOf(after, context.timeZone);
      for (const wall of cronWallTimes(expression.cron, start, 1)) {
        const instant = instantOf(wall, context.timeZone);
        if (instant && instant.getTime() > after.getTime()) return instant;
      }
      return undefined;
    }
  }
}

/** The last time the schedule fired at or before `atOrBefore`, or undefined when it never did. */
export function previousFireTime(
  expression: ScheduleExpression,
  context: FireTimeContext,
  atOrBefore: Date,
): Date | undefined {
  switch (expression.kind) {
    case 'at': {
      const instant = instantOf(expression.wall, context.timeZone);
      return instant && instant.getTime() <= atOrBefore.getTime() ? instant : undefined;
    }
    case 'rate': {
      const anchor = context.anchor.getTime();
      const k = Math.floor((atOrBefore.getTime() - anchor) / expression.intervalMs);
      return k >= 1 ? new Date(anchor + k * expression.intervalMs) : undefined;
    }
    case 'cron': {
      // Wall times later than the bound's own can still be earlier instants (the repeated hour in autumn).
      const start = wallTimeOf(new Date(atOrBefore.getTime() + MAX_SHIFT_MS), context.timeZone);
      for (const wall of cronWallTimes(expression.cron, start, -1)) {
        const instant = instantOf(wall, context.timeZone);
        if (instant && instant.getTime() <= atOrBefore.getTime()) return instant;
      }
      return undefined;
    }
  }
}

/** The next `count` fire times after `after` (fewer when the schedule ends). */
export function upcomingFireTimes(
  expression: ScheduleExpression,
  context: FireTimeContext,
  after: Date,
  count: number,
): Date[] {
  const times: Date[] = [];
  let cursor = after;
  while (times.length < count) {
    const next = nextFireTime(expression, context, cursor);
    if (!next) break;
    times.push(next);
    cursor = next;
  }
  return times;
}

/** An instant as Scheduler's `<aws.scheduler.scheduled-time>` spells it: `2022-03-22T18:59:43Z`. */
export function scheduledTimeText(instant: Date): string {
  return instant.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function invalid(text: string, reason: string): ValidationError {
  return new ValidationError('InvalidScheduleExpression', `"${text}": ${reason}`, {
    details: { expression: text, reason },
  });
}
