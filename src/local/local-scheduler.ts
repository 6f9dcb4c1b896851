import type { Catalog } from '../core/catalog.js';
import { type Clock, systemClock } from '../core/clock.js';
import { type Log, silentLog } from '../core/deps.js';
import { planFirings } from '../core/triggers/catch-up.js';
import {
  declaredScheduleRecord,
  fireTimeContext,
  type ScheduleRecord,
  scheduleMessage,
} from '../core/triggers/schedule.js';
import {
  nextFireTime,
  parseScheduleExpression,
  type ScheduleExpression,
  scheduledTimeText,
} from '../core/triggers/schedule-expression.js';
import type { Queue } from '../ports/queue.js';
import type { ScheduleRegistry } from '../ports/schedule-registry.js';
import type { ScheduleStore } from '../ports/schedule-store.js';

export interface LocalSchedulerOptions {
  readonly catalog: Catalog;
  readonly store: ScheduleStore;
  /** Runs go here, as EventBridge Scheduler sends them to the intake queue on AWS. */
  readonly intake: Queue;
  readonly clock?: Clock;
  readonly log?: Log;
  /** Longest sleep between checks, so a jump of the wall clock (a laptop waking up) is noticed. @default 30_000 */
  readonly maxSleepMs?: number;
  /** A run at most this late is an ordinary run; later ones are missed runs (catch-up policy). @default 60_000 */
  readonly lateToleranceMs?: number;
}

interface Entry {
  readonly record: ScheduleRecord;
  readonly expression: ScheduleExpression;
  /** Runs due at or before this instant have been handled. */
  handledUntil: Date;
}

/** One pass: what it started and what it skipped. */
export interface SchedulerPass {
  readonly fired: number;
  readonly caughtUp: number;
  readonly skipped: number;
}

/**
 * EventBridge Scheduler on one machine: the schedules declared in code plus the stored ones, each run sent to the
 * intake queue with exactly the message Scheduler sends (same idempotency key: schedule id + scheduled time). How
 * far each schedule's runs have been handled is stored (a cursor per schedule), so at start, the runs missed while
 * the service was down get each schedule's catch-up policy (`none`, `latest`, `all`), marked `catchUp: true`.
 * Also the local ScheduleRegistry: the API's schedule changes take effect at once.
 */
export class LocalScheduler implements ScheduleRegistry {
  readonly #catalog: Catalog;
  readonly #store: ScheduleStore;
  readonly #intake: Queue;
  readonly #clock: Clock;
  readonly #log: Log;
  readonly #maxSleepMs: number;
  readonly #toleranceMs: number;
  readonly #entries = new Map<string, Entry>();
  /** Passes and changes run one at a time, in order. */
  #chain: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(options: LocalSchedulerOptions) {
    this.#catalog = options.catalog;
    this.#store = options.store;
    this.#intake = options.intake;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? silentLog;
    this.#maxSleepMs = options.maxSleepMs ?? 30_000;
    this.#toleranceMs = options.lateToleranceMs ?? 60_000;
  }

  /** Loads every schedule, makes up missed runs by policy, and starts the timer. */
  async start(): Promise<SchedulerPass> {
    this.#running = true;
    const records = [
      ...this.#catalog.triggers().schedules.map(declaredScheduleRecord),
      ...(await this.#store.listSchedules()),
    ];
    const now = this.#clock.now();
    for (const record of records) {
      const cursor = await this.#store.getCursor(record.id);
      if (!cursor) await this.#store.setCursor(record.id, now);
      this.#add(record, cursor ?? now);
    }
    const pass = await this.runDue();
    if (records.length > 0) {
      this.#log.info('Local scheduler started', { schedules: records.length, ...pass });
    }
    return pass;
  }

  async put(schedule: ScheduleRecord): Promise<void> {
    await this.#serial(async () => {
      const now = this.#clock.now();
      // A new or changed schedule counts from now: nothing before its change is a missed run.
      await this.#store.setCursor(schedule.id, now);
      this.#add(schedule, now);
    });
    this.#arm();
  }

  async delete(id: string): Promise<void> {
    await this.#serial(async () => {
      this.#entries.delete(id);
    });
    this.#arm();
  }

  /** Starts every run that is due now (what the timer does). */
  runDue(): Promise<SchedulerPass> {
    const pass = this.#serial(() => this.#pass());
    void pass.then(
      () => this.#arm(),
      () => this.#arm(),
    );
    return pass;
  }

  /** When the next run is due (undefined: none is). */
  nextDue(): Date | undefined {
    let next: Date | undefined;
    for (const entry of this.#entries.values()) {
      if (!entry.record.enabled) continue;
      const time = nextFireTime(entry.expression, fireTimeContext(entry.record), entry.handledUntil);
      if (time && (!next || time < next)) next = time;
    }
    return next;
  }

  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    await this.#chain.catch(() => undefined);
  }

  #add(record: ScheduleRecord, handledUntil: Date): void {
    try {
      this.#entries.set(record.id, {
        record,
        expression: parseScheduleExpression(record.expression),
        handledUntil,
      });
    } catch (error) {
      this.#log.error('Schedule skipped: its expression is invalid', {
        scheduleId: record.id,
        error: String(error),
      });
    }
  }

  async #pass(): Promise<SchedulerPass> {
    const now = this.#clock.now();
    let fired = 0;
    let caughtUp = 0;
    let skipped = 0;
    for (const entry of this.#entries.values()) {
      if (!entry.record.enabled || entry.handledUntil >= now) continue;
      const plan = planFirings({
        expression: entry.expression,
        context: fireTimeContext(entry.record),
        handledUntil: entry.handledUntil,
        now,
        policy: entry.record.catchUp,
        limit: entry.record.catchUpLimit,
        lateToleranceMs: this.#toleranceMs,
      });
      try {
        for (const firing of plan.firings) {
          const time = scheduledTimeText(firing.scheduledTime);
          await this.#intake.send(scheduleMessage(entry.record, time, firing.catchUp));
          this.#log.info(firing.catchUp ? 'Schedule caught up a missed run' : 'Schedule fired', {
            scheduleId: entry.record.id,
            jobType: entry.record.jobType,
            scheduledTime: time,
          });
          if (firing.catchUp) caughtUp++;
          else fired++;
        }
      } catch (error) {
        // Not handled: the next pass sends them again (same idempotency keys, so no duplicate jobs).
        this.#log.error('Schedule run could not be sent', {
          scheduleId: entry.record.id,
          error: String(error),
        });
        continue;
      }
      if (plan.skipped > 0) {
        skipped += plan.skipped;
        this.#log.warn('Schedule skipped missed runs (catch-up policy)', {
          scheduleId: entry.record.id,
          policy: entry.record.catchUp,
          skipped: plan.skipped,
        });
      }
      entry.handledUntil = now;
      await this.#store.setCursor(entry.record.id, now);
    }
    return { fired, caughtUp, skipped };
  }

  #arm(): void {
    clearTimeout(this.#timer);
    if (!this.#running) return;
    const next = this.nextDue();
    const wait = next ? next.getTime() - this.#clock.now().getTime() : this.#maxSleepMs;
    this.#timer = setTimeout(
      () => {
        if (this.#running)
          void this.runDue().catch((error: unknown) =>
            this.#log.error('Scheduler pass failed', { error: String(error) }),
          );
      },
      Math.max(0, Math.min(wait, this.#maxSleepMs)),
    );
    this.#timer.unref?.();
  }

  #serial<T>(step: () => Promise<T>): Promise<T> {
    const result = this.#chain.then(step, step);
    this.#chain = result.catch(() => undefined);
    return result;
  }
}
