import type { ScheduleRecord } from '../core/triggers/schedule.js';

/**
 * What makes stored schedules fire: EventBridge Scheduler on AWS (one schedule per record, in the Offpeak group),
 * the local scheduler's timers under `npm start`. Both are idempotent.
 */
export interface ScheduleRegistry {
  /** Creates the schedule's timer, or replaces it with this definition. */
  put(schedule: ScheduleRecord): Promise<void>;
  /** Removes the timer; one that does not exist is not an error. */
  delete(id: string): Promise<void>;
}
