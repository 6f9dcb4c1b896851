import { type FireTimeContext, previousFireTime, type ScheduleExpression } from './schedule-expression.js';

/**
 * What a schedule does about runs it missed while the local service was not running (or the machine slept):
 * `none` skips them, `latest` runs the most recent one, `all` runs each (up to a bound), oldest first.
 */
export const CatchUpPolicy = { None: 'none', Latest: 'latest', All: 'all' } as const;
export type CatchUpPolicy = (typeof CatchUpPolicy)[keyof typeof CatchUpPolicy];

/** Default bound of `all`. */
export const DEFAULT_CATCH_UP_LIMIT = 10;
/** Largest bound of `all`. */
export const MAX_CATCH_UP_LIMIT = 100;
/** A run this late is still an ordinary run, not a missed one. */
export const DEFAULT_LATE_TOLERANCE_MS = 60_000;

/** One run to start now. */
export interface PlannedFiring {
  /** When the run was due. */
  readonly scheduledTime: Date;
  /** True for a missed run made up now. */
  readonly catchUp: boolean;
}

export interface FiringPlan {
  /** Runs to start, oldest first. */
  readonly firings: readonly PlannedFiring[];
  /** Missed runs the policy leaves out (counted up to a bound, for the log). */
  readonly skipped: number;
}

export interface PlanFiringsInput {
  readonly expression: ScheduleExpression;
  readonly context: FireTimeContext;
  /** Every run due at or before this instant has been handled. */
  readonly handledUntil: Date;
  readonly now: Date;
  readonly policy: CatchUpPolicy;
  /** Most runs `all` makes up. @default DEFAULT_CATCH_UP_LIMIT */
  readonly limit?: number;
  /** @default DEFAULT_LATE_TOLERANCE_MS */
  readonly lateToleranceMs?: number;
}

/** Counting skipped runs stops here (a minutely schedule down for a month would otherwise count 43,200). */
const SKIPPED_COUNT_MAX = 1000;

/**
 * Decides which runs of a schedule to start now, given the runs due since `handledUntil` (pure).
 *
 * The latest due run is an ordinary run when it is at most `lateToleranceMs` late. Every other due run was
 * missed, and the policy decides: `none` starts none of them; `latest` starts the most recent (unless an ordinary
 * run starts now anyway); `all` starts the most recent `limit` of them, oldest first. Missed runs are marked as
 * catch-ups.
 */
export function planFirings(input: PlanFiringsInput): FiringPlan {
  const tolerance = input.lateToleranceMs ?? DEFAULT_LATE_TOLERANCE_MS;
  const limit = Math.max(1, Math.min(MAX_CATCH_UP_LIMIT, input.limit ?? DEFAULT_CATCH_UP_LIMIT));
  const handled = input.handledUntil.getTime();
  // Walk back from now: due times in (handledUntil, now], newest first.
  const due = function* (): Generator<Date> {
    let bound = input.now;
    for (;;) {
      const previous = previousFireTime(input.expression, input.context, bound);
      if (!previous || previous.getTime() <= handled) return;
      yield previous;
      bound = new Date(previous.getTime() - 1);
    }
  };
  const newestFirst = due();
  const first = newestFirst.next();
  if (first.done) return { firings: [], skipped: 0 };
  const latest = first.value;
  const onTime = input.now.getTime() - latest.getTime() <= tolerance;
  const ordinary: PlannedFiring[] = onTime ? [{ scheduledTime: latest, catchUp: false }] : [];
  // The missed runs, newest first, pulled only as far as the policy needs them.
  const missed = onTime ? newestFirst : prepend(latest, newestFirst);

  switch (input.policy) {
    case CatchUpPolicy.None:
      return { firings: ordinary, skipped: count(missed, SKIPPED_COUNT_MAX) };
    case CatchUpPolicy.Latest: {
      if (onTime) return { firings: ordinary, skipped: count(missed, SKIPPED_COUNT_MAX) };
      const newest = missed.next();
      if (newest.done) return { firings: [], skipped: 0 };
      return {
        firings: [{ scheduledTime: newest.value, catchUp: true }],
        skipped: count(missed, SKIPPED_COUNT_MAX),
      };
    }
    case CatchUpPolicy.All: {
      const made: PlannedFiring[] = [];
      // Not for…of: breaking out of it would close the generator before the rest is counted.
      for (let next = missed.next(); !next.done; next = missed.next()) {
        made.push({ scheduledTime: next.value, catchUp: true });
        if (made.length === limit) break;
      }
      return { firings: [...made.reverse(), ...ordinary], skipped: count(missed, SKIPPED_COUNT_MAX) };
    }
  }
}

function* prepend<T>(head: T, rest: Iterator<T>): Generator<T> {
  yield head;
  for (let next = rest.next(); !next.done; next = rest.next()) yield next.value;
}

function count(items: Iterator<unknown>, max: number): number {
  let n = 0;
  while (n < max && !items.next().done) n++;
  return n;
}
