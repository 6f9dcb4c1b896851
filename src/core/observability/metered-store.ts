import type { JobStore } from '../../ports/job-store.js';
import type { Job } from '../job.js';
import type { Metrics } from './metrics.js';
import { transitionMetrics } from './transition-metrics.js';

/** Transitions already counted by this process, so a same-millisecond patch after a transition is not recounted. */
const RECENT_LIMIT = 5_000;

/**
 * Wraps a JobStore so that every committed state change records its metrics ({@link transitionMetrics}). Every
 * writer (submit, dispatch, tracker, cancel, reconciler, and any service added later) goes through `createJob` and
 * `updateJob`, and only a write that won its conditional check counts, so each transition is counted exactly
 * once however many writers race. Other methods pass through untouched (a Proxy, so methods added to the port
 * later pass through too).
 *
 * A write is a transition when it stamped `stateChangedAt` (the transition table's `transitionJob` sets it
 * together with `updatedAt` and a new history entry); plain patches leave it alone.
 *
 * @example
 * const deps = { ...awsDeps(), store: meteredJobStore(awsDeps().store, powertoolsMetrics) };
 */
export function meteredJobStore(store: JobStore, metrics: Metrics): JobStore {
  const counted = new Set<string>();
  const remember = (key: string): boolean => {
    if (counted.has(key)) return false;
    counted.add(key);
    if (counted.size > RECENT_LIMIT) {
      const oldest = counted.values().next().value;
      if (oldest !== undefined) counted.delete(oldest);
    }
    return true;
  };
  const createJob = async (job: Job): Promise<boolean> => {
    const created = await store.createJob(job);
    if (created && remember(`${job.id}|${job.state}|${job.stateChangedAt}`)) {
      safeRecord(metrics, () => transitionMetrics(undefined, job));
    }
    return created;
  };
  const updateJob = async (next: Job, expectedVersion: number): Promise<Job> => {
    const stored = await store.updateJob(next, expectedVersion);
    const entered = stored.history.at(-1);
    const previous = stored.history.at(-2)?.state;
    if (
      entered &&
      entered.state === stored.state &&
      entered.at === stored.stateChangedAt &&
      stored.updatedAt === stored.stateChangedAt &&
      previous !== undefined &&
      remember(`${stored.id}|${stored.state}|${stored.stateChangedAt}`)
    ) {
      safeRecord(metrics, () => transitionMetrics(previous, stored));
    }
    return stored;
  };
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'createJob') return createJob;
      if (property === 'updateJob') return updateJob;
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function safeRecord(metrics: Metrics, data: () => ReturnType<typeof transitionMetrics>): void {
  try {
    metrics.record(data());
  } catch {
    // Metrics are best effort: a bad data point must never fail a state write that already committed.
  }
}
