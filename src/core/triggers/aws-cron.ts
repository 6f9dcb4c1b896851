import { ValidationError } from '../errors.js';
import { daysInMonth, type WallTime, weekday } from './zoned-time.js';

/** Years EventBridge Scheduler's cron accepts. */
export const CRON_YEARS = { min: 1970, max: 2199 } as const;

/** How the days of a month are chosen: by day of month or by day of week (never both: the other field is `?`). */
export type CronDays =
  /** Listed days of the month (`*`, `1,15`, `1-10/2`). */
  | { readonly kind: 'monthDays'; readonly days: readonly number[] }
  /** `L`: the last day of the month. */
  | { readonly kind: 'lastDay' }
  /** `LW`: the last weekday (Monday–Friday) of the month. */
  | { readonly kind: 'lastWeekday' }
  /** `15W`: the weekday nearest to the 15th, without leaving the month. */
  | { readonly kind: 'nearestWeekday'; readonly day: number }
  /** Listed days of the week, 1 = Sunday … 7 = Saturday (`MON-FRI`, `2,4`, `L` = 7). */
  | { readonly kind: 'weekdays'; readonly weekdays: readonly number[] }
  /** `6L`: the last given day of the week of the month (6L = the last Friday). */
  | { readonly kind: 'lastWeekdayOf'; readonly weekday: number }
  /** `3#2`: the nth given day of the week of the month (3#2 = the second Tuesday). */
  | { readonly kind: 'nthWeekday'; readonly weekday: number; readonly nth: number };

/**
 * A parsed EventBridge (Scheduler) cron expression: `minutes hours day-of-month month day-of-week year`, day of
 * week 1–7 with 1 = Sunday, `?` in exactly one of the two day fields, `L`, `W` and `#` as in Quartz.
 */
export interface AwsCron {
  /** The six fields as written. */
  readonly fields: string;
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly months: readonly number[];
  readonly years: readonly number[];
  readonly days: CronDays;
}

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Names for min, min+1, … (months, days of week). */
  readonly names?: readonly string[];
  readonly hint?: string;
}

const FIELDS = {
  minutes: { name: 'minutes', min: 0, max: 59 },
  hours: { name: 'hours', min: 0, max: 23 },
  dayOfMonth: { name: 'day-of-month', min: 1, max: 31 },
  month: { name: 'month', min: 1, max: 12, names: MONTH_NAMES },
  dayOfWeek: { name: 'day-of-week', min: 1, max: 7, names: DAY_NAMES, hint: ' (1 = SUN … 7 = SAT)' },
  year: { name: 'year', min: CRON_YEARS.min, max: CRON_YEARS.max },
} as const satisfies Record<string, FieldSpec>;

/**
 * Parses the six fields inside `cron(…)`.
 *
 * @example parseAwsCron('0 2 ? * MON-FRI *') // 02:00 on weekdays
 * @throws ValidationError `InvalidScheduleExpression` naming the field and what is wrong with it
 */
export function parseAwsCron(fields: string): AwsCron {
  const parts = fields.trim().split(/\s+/);
  if (parts.length !== 6) {
    throw invalid(
      fields,
      `expected 6 fields (minutes hours day-of-month month day-of-week year), got ${parts.length}`,
    );
  }
  const [minutes, hours, dayOfMonth, month, dayOfWeek, year] = parts as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const domQ = dayOfMonth === '?';
  const dowQ = dayOfWeek === '?';
  if (domQ === dowQ) {
    throw invalid(
      fields,
      domQ
        ? 'day-of-month and day-of-week cannot both be "?"'
        : 'one of day-of-month and day-of-week must be "?" (they cannot both be given)',
    );
  }
  for (const [spec, text] of [
    [FIELDS.minutes, minutes],
    [FIELDS.hours, hours],
    [FIELDS.month, month],
    [FIELDS.year, year],
  ] as const) {
    if (text === '?')
      throw invalid(fields, `${spec.name}: "?" is only allowed in day-of-month or day-of-week`);
  }
  return {
    fields: parts.join(' '),
    minutes: parseField(fields, minutes, FIELDS.minutes),
    hours: parseField(fields, hours, FIELDS.hours),
    months: parseField(fields, month, FIELDS.month),
    years: parseField(fields, year, FIELDS.year),
    days: domQ ? parseDayOfWeek(fields, dayOfWeek) : parseDayOfMonth(fields, dayOfMonth),
  };
}

function parseDayOfMonth(fields: string, text: string): CronDays {
  const upper = text.toUpperCase();
  if (upper === 'L') return { kind: 'lastDay' };
  if (upper === 'LW') return { kind: 'lastWeekday' };
  const nearest = /^(\d{1,2})W$/.exec(upper);
  if (nearest) {
    const day = Number(nearest[1]);
    if (day < 1 || day > 31) throw invalid(fields, `day-of-month: ${text}: the day must be 1-31`);
    return { kind: 'nearestWeekday', day };
  }
  if (/[LW#]/.test(upper)) {
    throw invalid(
      fields,
      `day-of-month: "${text}": L and W stand alone (L, LW, or a day followed by W like 15W)`,
    );
  }
  return { kind: 'monthDays', days: parseField(fields, text, FIELDS.dayOfMonth) };
}

function parseDayOfWeek(fields: string, text: string): CronDays {
  const upper = text.toUpperCase();
  if (upper === 'L') return { kind: 'weekdays', weekdays: [7] };
  const last = /^([A-Z]{3}|\d)L$/.exec(upper);
  if (last) return { kind: 'lastWeekdayOf', weekday: fieldValue(fields, last[1]!, FIELDS.dayOfWeek) };
  const nth = /^([A-Z]{3}|\d)#(\d+)$/.exec(upper);
  if (nth) {
    const n = Number(nth[2]);
    if (n < 1 || n > 5) throw invalid(fields, `day-of-week: ${text}: the occurrence after # must be 1-5`);
    return { kind: 'nthWeekday', weekday: fieldValue(fields, nth[1]!, FIELDS.dayOfWeek), nth: n };
  }
  if (/[LW#]/.test(upper.replace(/[A-Z]{3}/g, (name) => (DAY_NAMES.includes(name) ? '' : name)))) {
    throw invalid(fields, `day-of-week: "${text}": L and # stand alone (L, 6L, or 3#2)`);
  }
  return { kind: 'weekdays', weekdays: parseField(fields, text, FIELDS.dayOfWeek) };
}

/** `*`, `5`, `1,2`, `1-5`, `*\/15`, `5/15`, `10-40/10`, and names where the field has them. Sorted, unique. */
function parseField(fields: string, text: string, spec: FieldSpec): number[] {
  const values = new Set<number>();
  for (const item of text.split(',')) {
    if (item === '') throw invalid(fields, `${spec.name}: empty list item in "${text}"`);
    const slash = item.split('/');
    if (slash.length > 2) throw invalid(fields, `${spec.name}: "${item}" has more than one "/"`);
    const [range, stepText] = slash as [string, string | undefined];
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText)) throw invalid(fields, `${spec.name}: step "${stepText}" is not a number`);
      step = Number(stepText);
      const span = spec.max - spec.min + 1;
      if (step < 1 || step > span) throw invalid(fields, `${spec.name}: step ${step} must be 1-${span}`);
    }
    let from: number;
    let to: number;
    if (range === '*') {
      from = spec.min;
      to = spec.max;
    } else if (range.includes('-')) {
      const bounds = range.split('-');
      if (bounds.length !== 2) throw invalid(fields, `${spec.name}: "${range}" is not a range`);
      from = fieldValue(fields, bounds[0]!, spec);
      to = fieldValue(fields, bounds[1]!, spec);
      if (from > to) {
        throw invalid(
          fields,
          `${spec.name}: range ${range} runs backwards; write it as a list (e.g. 22,23,0,1) instead of a wrap-around range`,
        );
      }
    } else {
      from = fieldValue(fields, range, spec);
      // Quartz: `5/15` means from 5 to the end, every 15.
      to = stepText === undefined ? from : spec.max;
    }
    for (let value = from; value <= to; value += step) values.add(value);
  }
  return [...values].sort((a, b) => a - b);
}

function fieldValue(fields: string, text: string, spec: FieldSpec): number {
  const upper = text.toUpperCase();
  const named = spec.names?.indexOf(upper) ?? -1;
  if (named >= 0) return spec.min + named;
  if (!/^\d+$/.test(text)) {
    throw invalid(
      fields,
      `${spec.name}: "${text}" is not a number${spec.names ? ` or a name (${spec.names.join(', ')})` : ''}`,
    );
  }
  const value = Number(text);
  if (value < spec.min || value > spec.max) {
    throw invalid(fields, `${spec.name}: ${value} is out of range ${spec.min}-${spec.max}${spec.hint ?? ''}`);
  }
  return value;
}

function invalid(fields: string, reason: string): ValidationError {
  return new ValidationError('InvalidScheduleExpression', `cron(${fields.trim()}): ${reason}`, {
    details: { expression: `cron(${fields.trim()})`, reason },
  });
}

/** The days of a month the expression fires on, ascending. */
export function cronDaysOf(cron: AwsCron, year: number, month: number): number[] {
  const length = daysInMonth(year, month);
  const awsWeekday = (day: number) => weekday(year, month, day) + 1;
  const days = cron.days;
  switch (days.kind) {
    case 'monthDays':
      return days.days.filter((d) => d <= length);
    case 'lastDay':
      return [length];
    case 'lastWeekday': {
      const dow = awsWeekday(length);
      return [dow === 7 ? length - 1 : dow === 1 ? length - 2 : length];
    }
    case 'nearestWeekday': {
      const d = days.day;
      if (d > length) return [];
      const dow = awsWeekday(d);
      if (dow === 7) return [d === 1 ? d + 2 : d - 1];
      if (dow === 1) return [d === length ? d - 2 : d + 1];
      return [d];
    }
    case 'weekdays': {
      const result: number[] = [];
      for (let d = 1; d <= length; d++) if (days.weekdays.includes(awsWeekday(d))) result.push(d);
      return result;
    }
    case 'lastWeekdayOf': {
      for (let d = length; d > length - 7; d--) if (awsWeekday(d) === days.weekday) return [d];
      return [];
    }
    case 'nthWeekday': {
      const first = ((days.weekday - awsWeekday(1) + 7) % 7) + 1;
      const d = first + (days.nth - 1) * 7;
      return d <= length ? [d] : [];
    }
  }
}

/**
 * The wall-clock minutes the expression matches, from `start` (inclusive) onwards (`direction` 1) or backwards
 * (`direction` -1), in order. Ends after the last year the expression allows.
 */
export function* cronWallTimes(cron: AwsCron, start: WallTime, direction: 1 | -1): Generator<WallTime> {
  const order = <T>(values: readonly T[]) => (direction === 1 ? values : [...values].reverse());
  // On the path that equals `start` so far, values before it (in the direction of travel) are skipped.
  const from = (value: number, bound: number) => (direction === 1 ? value >= bound : value <= bound);
  for (const year of order(cron.years)) {
    if (!from(year, start.year)) continue;
    const onYear = year === start.year;
    for (const month of order(cron.months)) {
      if (onYear && !from(month, start.month)) continue;
      const onMonth = onYear && month === start.month;
      for (const day of order(cronDaysOf(cron, year, month))) {
        if (onMonth && !from(day, start.day)) continue;
        const onDay = onMonth && day === start.day;
        for (const hour of order(cron.hours)) {
          if (onDay && !from(hour, start.hour)) continue;
          const onHour = onDay && hour === start.hour;
          for (const minute of order(cron.minutes)) {
            if (onHour && !from(minute, start.minute)) continue;
            yield { year, month, day, hour, minute };
          }
        }
      }
    }
  }
}
