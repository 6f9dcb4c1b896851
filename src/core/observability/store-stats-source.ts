import type { JobStore } from '../../ports/job-store.js';
import type { CountWithOldest, StatsSource } from '../../ports/stats-source.js';
import { JobState } from '../job-state.js';

const END_OF_TIME = new Date('9999-12-31T23:59:59.999Z');
const EPOCH = new Date(0);

/**
 * A StatsSource on any JobStore, through `jobsInStateSince` (which reads whole jobs). For stores without cheaper
 * counts (the in-memory store in tests); the DynamoDB store has `DynamoStatsSource`.
 */
export function storeStatsSource(store: JobStore, limit = 100_000): StatsSource {
  return {
    async countInState(state, since): Promise<CountWithOldest> {
      const jobs = await store.jobsInStateSince(state, END_OF_TIME, limit, since ?? EPOCH);
      return { count: jobs.length, ...(jobs[0] ? { oldest: jobs[0].stateChangedAt } : {}) };
    },
    async queueBacklog(queue): Promise<CountWithOldest> {
      const jobs = (await store.jobsInStateSince(JobState.Queued, END_OF_TIME, limit)).filter(
        (j) => j.queue === queue,
      );
      return { count: jobs.length, ...(jobs[0] ? { oldest: jobs[0].stateChangedAt } : {}) };
    },
  };
}
