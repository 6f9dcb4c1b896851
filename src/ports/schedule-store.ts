import type { ScheduleRecord } from '../core/triggers/schedule.js';

/**
 * Persistence of the schedules created at run time (`POST /schedules`, `POST /jobs` with `runAt`) and of the local
 * scheduler's progress. Single-item conditional writes only.
 */
export interface ScheduleStore {
  /** @returns false when a schedule with that id exists. */
  createSchedule(schedule: ScheduleRecord): Promise<boolean>;
  getSchedule(id: string): Promise<ScheduleRecord | undefined>;
  /** Every stored schedule, by id. */
  listSchedules(): Promise<ScheduleRecord[]>;
  /**
   * Replaces a schedule (version `expectedVersion + 1`) if it still has `expectedVersion`.
   * @throws ConcurrentUpdateError when it changed or is gone
   */
  updateSchedule(next: ScheduleRecord, expectedVersion: number): Promise<ScheduleRecord>;
  /** @returns false when there was no such schedule. */
  deleteSchedule(id: string): Promise<boolean>;
  /** Until when the local scheduler has handled a schedule's runs (absent: never seen). */
  getCursor(id: string): Promise<Date | undefined>;
  /** Records progress; never moves a cursor backwards. */
  setCursor(id: string, handledUntil: Date): Promise<void>;
  deleteCursor(id: string): Promise<void>;
}
