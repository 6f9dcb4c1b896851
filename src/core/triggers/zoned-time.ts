import { ValidationError } from '../errors.js';

/** A wall-clock minute in some time zone (month 1–12). */
export interface WallTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second?: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    formatters.set(timeZone, format);
  }
  return format;
}

let knownZones: readonly string[] | undefined;

/**
 * Checks an IANA time zone name the way EventBridge Scheduler needs it: a name the time zone database knows
 * (aliases such as `US/Eastern` or `Asia/Kolkata` included), spelled with its exact case.
 *
 * @throws ValidationError `UnknownTimeZone`
 */
export function assertTimeZone(timeZone: string): void {
  const unknown = (hint = '') =>
    new ValidationError(
      'UnknownTimeZone',
      `Unknown time zone "${timeZone}"${hint}: use an IANA name like Europe/Berlin`,
    );
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+){0,2}$/.test(timeZone)) throw unknown();
  try {
    formatter(timeZone);
  } catch {
    throw unknown();
  }
  knownZones ??= Intl.supportedValuesOf('timeZone');
  const lower = timeZone.toLowerCase();
  const sameButCase = knownZones.find((zone) => zone.toLowerCase() === lower && zone !== timeZone);
  if (sameButCase) throw unknown(` (did you mean ${sameButCase}?)`);
}

/** Whether {@link assertTimeZone} accepts the name. */
export function isTimeZone(timeZone: string): boolean {
  try {
    assertTimeZone(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The wall-clock time of an instant in a time zone (seconds included). */
export function wallTimeOf(instant: Date, timeZone: string): Required<WallTime> {
  const parts = formatter(timeZone).formatToParts(instant);
  const get = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value);
  const era = parts.find((p) => p.type === 'era')?.value;
  const year = era === 'BC' || era === 'B' ? 1 - get('year') : get('year');
  return {
    year,
    month: get('month'),
    day: get('day'),
    hour: get('hour'),
    minute: get('minute'),
    second: get('second'),
  };
}

/** The wall time as if it were UTC, in epoch milliseconds (for arithmetic on wall times). */
export function wallEpoch(wall: WallTime): number {
  const epoch = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second ?? 0);
  // Date.UTC maps years 0–99 to 1900–1999.
  return wall.year >= 0 && wall.year < 100 ? new Date(epoch).setUTCFullYear(wall.year) : epoch;
}

/** The zone's offset from UTC at an instant, in milliseconds (positive east of Greenwich). */
export function zoneOffsetMs(instant: Date, timeZone: string): number {
  const wholeSecond = Math.floor(instant.getTime() / 1000) * 1000;
  return wallEpoch(wallTimeOf(new Date(wholeSecond), timeZone)) - wholeSecond;
}

const DAY_MS = 86_400_000;

/**
 * The instant a wall-clock time happens in a time zone, the way EventBridge Scheduler resolves daylight saving
 * time: a wall time that does not exist (skipped when clocks go forward) has no instant (`undefined`: the run is
 * skipped); a wall time that happens twice (clocks go back) resolves to its first occurrence only.
 */
export function instantOf(wall: WallTime, timeZone: string): Date | undefined {
  const local = wallEpoch(wall);
  const steady = steadyDayOffset(wall, timeZone);
  if (steady !== undefined) return new Date(local - steady);
  // The offsets in force a day before and a day after cover both sides of any transition near this wall time.
  const offsets = new Set([
    zoneOffsetMs(new Date(local - DAY_MS), timeZone),
    zoneOffsetMs(new Date(local), timeZone),
    zoneOffsetMs(new Date(local + DAY_MS), timeZone),
  ]);
  let earliest: number | undefined;
  for (const offset of offsets) {
    const candidate = local - offset;
    if (wallEpoch(wallTimeOf(new Date(candidate), timeZone)) !== local) continue;
    if (earliest === undefined || candidate < earliest) earliest = candidate;
  }
  return earliest === undefined ? undefined : new Date(earliest);
}

const steadyOffsets = new Map<string, number | null>();
const STEADY_CACHE_MAX = 10_000;
/** No zone is more than this far from UTC (UTC+14, UTC−12), with a margin. */
const WIDEST_OFFSET_MS = 15 * 3_600_000;

/**
 * The offset in force for the whole local day of `wall` when no transition happens anywhere near it (nearly every
 * day), else undefined. Cached: schedules ask for the same days over and over.
 */
function steadyDayOffset(wall: WallTime, timeZone: string): number | undefined {
  const key = `${timeZone}|${wall.year}-${wall.month}-${wall.day}`;
  let offset = steadyOffsets.get(key);
  if (offset === undefined) {
    const dayStart = wallEpoch({ year: wall.year, month: wall.month, day: wall.day, hour: 0, minute: 0 });
    const before = zoneOffsetMs(new Date(dayStart - WIDEST_OFFSET_MS), timeZone);
    const after = zoneOffsetMs(new Date(dayStart + DAY_MS + WIDEST_OFFSET_MS), timeZone);
    offset = before === after ? before : null;
    if (steadyOffsets.size >= STEADY_CACHE_MAX) steadyOffsets.clear();
    steadyOffsets.set(key, offset);
  }
  return offset ?? undefined;
}

/** Days in a month (1–12) of a year (proleptic Gregorian). */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** Day of the week of a date, 0 = Sunday … 6 = Saturday. */
export function weekday(year: number, month: number, day: number): number {
  return new Date(wallEpoch({ year, month, day, hour: 0, minute: 0 })).getUTCDay();
}
