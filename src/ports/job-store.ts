import type { Job } from '../core/job.js';
import type { JobState } from '../core/job-state.js';

/** A page of results and the opaque cursor of the next page (absent on the last page). */
export interface Page<T> {
  readonly items: T[];
  readonly cursor?: string;
}

export interface ListJobsQuery {
  readonly state?: JobState;
  readonly type?: string;
  /** 1..100 */
  readonly limit: number;
  readonly cursor?: string;
}

/** Outcome of claiming an idempotency key. */
export type IdempotencyClaim =
  | { readonly claimed: true }
  | { readonly claimed: false; readonly jobId: string };

/**
 * Persistence for jobs, idempotency keys, concurrency counters and dependency edges. Every write is a single-item
 * conditional write (no transactions), so the contract is written in terms of what each call guarantees alone.
 */
export interface JobStore {
  /**
   * Records `key → jobId` unless the key exists (and has not expired).
   * @returns `{claimed: false, jobId}` with the job that owns the key.
   */
  claimIdempotencyKey(key: string, jobId: string, expiresAt: Date): Promise<IdempotencyClaim>;

  /** Releases an idempotency key so it can be used again. @returns false when there was no such key. */
  releaseIdempotencyKey(key: string): Promise<boolean>;

  /** Creates a job that must not exist yet. @returns false when a job with that id already exists. */
  createJob(job: Job): Promise<boolean>;

  getJob(id: string): Promise<Job | undefined>;

  /** Reads many jobs (missing ids are left out); order is unspecified. */
  getJobs(ids: readonly string[]): Promise<Job[]>;

  /**
   * Writes `next` (with version `expectedVersion + 1`) if the stored job still has `expectedVersion`.
   * The whole job is replaced: fields absent from `next` are removed.
   * @returns the stored job.
   * @throws ConcurrentUpdateError when the version changed (someone else wrote first) or the job is gone.
   */
  updateJob(next: Job, expectedVersion: number): Promise<Job>;

  /** Lists jobs, newest first: by creation, or, with a state filter, by when they entered that state. */
  listJobs(query: ListJobsQuery): Promise<Page<Job>>;

  /**
   * The next waiting jobs of a queue in dispatch order: highest priority first, then oldest first (FIFO) or
   * newest first (LIFO), as encoded when the job was queued.
   */
  queuedJobs(queue: string, limit: number): Promise<Job[]>;

  /**
   * Jobs that entered `state` before `before` (and at or after `after`, when given), oldest first: the
   * reconciler's view.
   */
  jobsInStateSince(state: JobState, before: Date, limit: number, after?: Date): Promise<Job[]>;

  /**
   * Takes a concurrency slot of `counter` if fewer than `limit` are taken.
   * @returns false when the limit is reached.
   */
  acquireSlot(counter: string, limit: number): Promise<boolean>;

  /** Gives a slot back (never below zero). */
  releaseSlot(counter: string): Promise<void>;

  /** Current slot usage of a counter. */
  slotUsage(counter: string): Promise<{ readonly used: number; readonly version: number }>;

  /**
   * Sets a counter's usage to `used` if its version is still `expectedVersion` (the reconciler's recount).
   * @returns false when the counter changed meanwhile.
   */
  resetSlots(counter: string, used: number, expectedVersion: number): Promise<boolean>;

  /** Records that `dependentId` waits for `dependencyId`. Idempotent. */
  addDependent(dependencyId: string, dependentId: string): Promise<void>;

  /** Jobs waiting for `dependencyId`. */
  dependentsOf(dependencyId: string): Promise<string[]>;
}
