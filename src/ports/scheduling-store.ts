import type {
  LimitOverrides,
  QueueOverride,
  QueuePatch,
  ResourceOverride,
  ResourcePatch,
} from '../core/limits.js';
import type { Pipeline } from '../core/pipeline.js';
import type { RateLimit } from '../core/rate-limit.js';

/** What {@link SchedulingStore.takeTokens} granted. */
export interface TokenGrant {
  /** Tokens granted, 0..requested. */
  readonly granted: number;
  /** When nothing was granted: milliseconds until a token is due. */
  readonly retryAfterMs: number;
}

/**
 * Persistence of the scheduler's control data, beside the jobs (one table on AWS): run-time limit overrides, rate
 * limit token buckets, alert latches and pipelines. Single-item conditional writes only, like the JobStore.
 */
export interface SchedulingStore {
  /** Every run-time override of queues and resources (one read). */
  limitOverrides(): Promise<LimitOverrides>;

  /** Applies a patch to a queue's override (`null` removes a field) and returns the override now stored. */
  patchQueue(queue: string, patch: QueuePatch): Promise<QueueOverride>;

  /** Applies a patch to a resource's override and returns the override now stored. */
  patchResource(resource: string, patch: ResourcePatch): Promise<ResourceOverride>;

  /**
   * Takes up to `requested` tokens of the token bucket named `bucket` (created full), refilled per `rate`.
   * Concurrent takers never share a token (conditional write on the bucket's version; a lost race re-reads).
   */
  takeTokens(bucket: string, rate: RateLimit, requested: number): Promise<TokenGrant>;

  /** Empties a bucket and blocks it for `pauseMs` (a back-off every taker sees), unless it is blocked longer. */
  blockTokens(bucket: string, rate: RateLimit, pauseMs: number): Promise<void>;

  /**
   * Claims the right to raise the alert `key` now: true at most once per `intervalMs`, whatever the number of
   * concurrent callers.
   */
  claimAlert(key: string, intervalMs: number): Promise<boolean>;

  /** Creates a pipeline that must not exist yet. @returns false when one with that id exists. */
  createPipeline(pipeline: Pipeline): Promise<boolean>;

  getPipeline(id: string): Promise<Pipeline | undefined>;

  /**
   * Writes `next` (version `expectedVersion + 1`) if the stored pipeline still has `expectedVersion`.
   * @throws ConcurrentUpdateError otherwise.
   */
  updatePipeline(next: Pipeline, expectedVersion: number): Promise<Pipeline>;

  /** Pipelines whose creation has not finished, created before `before`, oldest first (the reconciler's view). */
  unfinishedPipelines(before: Date, limit: number): Promise<Pipeline[]>;
}
