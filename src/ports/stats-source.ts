import type { JobState } from '../core/job-state.js';

/** How many jobs match, and when the one that has been there longest got there. */
export interface CountWithOldest {
  readonly count: number;
  /** `stateChangedAt` of the job longest in that state (absent when none). */
  readonly oldest?: string;
}

/**
 * Cheap counts for `GET /stats` and the monitor pass, read from the table's indexes without scans: a count
 * reads one index partition (the state's, or the queue's), never the whole table.
 */
export interface StatsSource {
  /** Jobs in `state`; with `since`, only those that entered it at or after then (the terminal states' window). */
  countInState(state: JobState, since?: Date): Promise<CountWithOldest>;
  /** QUEUED jobs of one queue, and the longest-waiting one's `stateChangedAt`. */
  queueBacklog(queue: string): Promise<CountWithOldest>;
}
