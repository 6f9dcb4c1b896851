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

/** A concurrency counter as read. */
export interface SlotUsage {
  readonly used: number;
  readonly version: number;
  /** ISO time of the last acquire, release or reset. */
  readonly changedAt?: string;
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
   * newest first (LIFO), as encoded when the job was queued. With `startAfter` (a job of an earlier page), the jobs
   * that come after it, so a dispatcher can look past jobs that cannot run yet.
   */
  queuedJobs(queue: string, limit: number, startAfter?: Job): Promise<Job[]>;

  /** How many jobs wait in a queue, counting at most `max` (the answer is then `max`). */
  countQueued(queue: string, max: number): Promise<number>;

  /**
   * Jobs that entered `state` before `before` (and at or after `after`, when given), oldest first: the
   * reconciler's view.
   */
  jobsInStateSince(state: JobState, before: Date, limit: number, after?: Date): Promise<Job[]>;

  /**
   * Takes `units` (default 1) of `counter` if that leaves at most `limit` taken. Every change of a counter
   * increments its version and records when it happened.
   * @returns false when the limit would be exceeded.
   */
  acquireSlot(counter: string, limit: number, units?: number): Promise<boolean>;

  /**
   * Gives `units` (default 1) back; never below zero. With a `token` (one per claim of a job), a release repeating
   * the counter's last release is ignored, so a retried call cannot give back the same units twice.
   */
  releaseSlot(counter: string, units?: number, token?: string): Promise<void>;

  /** Current usage of a counter, and when it last changed (undefined: never written). */
  slotUsage(counter: string): Promise<SlotUsage>;

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
