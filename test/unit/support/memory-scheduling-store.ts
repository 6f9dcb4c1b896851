import { ConcurrentUpdateError } from '../../../src/core/errors.js';
import type {
  LimitOverrides,
  QueueOverride,
  QueuePatch,
  ResourceOverride,
  ResourcePatch,
} from '../../../src/core/limits.js';
import type { Pipeline } from '../../../src/core/pipeline.js';
import type { RateLimit } from '../../../src/core/rate-limit.js';
import {
  blockBucket,
  fullBucket,
  type TokenBucketState,
  takeTokens,
} from '../../../src/core/token-bucket.js';
import type { SchedulingStore, TokenGrant } from '../../../src/ports/scheduling-store.js';

/** An in-memory SchedulingStore with the DynamoDB adapter's guarantees, for fast unit tests of the core services. */
export class MemorySchedulingStore implements SchedulingStore {
  readonly queues = new Map<string, QueueOverride>();
  readonly resources = new Map<string, ResourceOverride>();
  readonly buckets = new Map<string, TokenBucketState>();
  readonly alerts = new Map<string, number>();
  readonly pipelines = new Map<string, Pipeline>();
  /** Counts of each call, to assert costs. */
  readonly calls = { overrides: 0, takeTokens: 0 };

  constructor(private readonly now: () => Date = () => new Date()) {}

  async limitOverrides(): Promise<LimitOverrides> {
    this.calls.overrides++;
    return {
      queues: Object.fromEntries([...this.queues].map(([k, v]) => [k, { ...v }])),
      resources: Object.fromEntries([...this.resources].map(([k, v]) => [k, { ...v }])),
    };
  }

  async patchQueue(queue: string, patch: QueuePatch): Promise<QueueOverride> {
    const current: Record<string, unknown> = { ...this.queues.get(queue) };
    applyPatch(current, patch);
    const next = { ...current, updatedAt: this.now().toISOString() } as QueueOverride;
    this.queues.set(queue, next);
    return { ...next };
  }

  async patchResource(resource: string, patch: ResourcePatch): Promise<ResourceOverride> {
    const current: Record<string, unknown> = { ...this.resources.get(resource) };
    applyPatch(current, patch);
    const next = { ...current, updatedAt: this.now().toISOString() } as ResourceOverride;
    this.resources.set(resource, next);
    return { ...next };
  }

  async takeTokens(bucket: string, rate: RateLimit, requested: number): Promise<TokenGrant> {
    this.calls.takeTokens++;
    const nowMs = this.now().getTime();
    const take = takeTokens(this.buckets.get(bucket) ?? fullBucket(rate, nowMs), rate, nowMs, requested);
    if (take.granted > 0) this.buckets.set(bucket, take.state);
    return { granted: take.granted, retryAfterMs: take.retryAfterMs };
  }

  async blockTokens(bucket: string, rate: RateLimit, pauseMs: number): Promise<void> {
    const nowMs = this.now().getTime();
    this.buckets.set(
      bucket,
      blockBucket(this.buckets.get(bucket) ?? fullBucket(rate, nowMs), rate, nowMs, pauseMs),
    );
  }

  async claimAlert(key: string, intervalMs: number): Promise<boolean> {
    const nowMs = this.now().getTime();
    const last = this.alerts.get(key);
    if (last !== undefined && last > nowMs - intervalMs) return false;
    this.alerts.set(key, nowMs);
    return true;
  }

  async createPipeline(pipeline: Pipeline): Promise<boolean> {
    if (this.pipelines.has(pipeline.id)) return false;
    this.pipelines.set(pipeline.id, structuredClone(pipeline));
    return true;
  }

  async getPipeline(id: string): Promise<Pipeline | undefined> {
    const pipeline = this.pipelines.get(id);
    return pipeline ? structuredClone(pipeline) : undefined;
  }

  async updatePipeline(next: Pipeline, expectedVersion: number): Promise<Pipeline> {
    const current = this.pipelines.get(next.id);
    if (!current || current.version !== expectedVersion) {
      throw new ConcurrentUpdateError('ConcurrentUpdate', `Pipeline ${next.id} changed`);
    }
    const stored = structuredClone({ ...next, version: expectedVersion + 1 });
    this.pipelines.set(next.id, stored);
    return structuredClone(stored);
  }

  async unfinishedPipelines(before: Date, limit: number): Promise<Pipeline[]> {
    return [...this.pipelines.values()]
      .filter((p) => !p.created && p.createdAt < before.toISOString())
      .sort((a, b) => (`${a.createdAt}#${a.id}` < `${b.createdAt}#${b.id}` ? -1 : 1))
      .slice(0, limit)
      .map((p) => structuredClone(p));
  }
}

function applyPatch(target: Record<string, unknown>, patch: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(patch)) {
    if (value === null) delete target[name];
    else if (value !== undefined) target[name] = value;
  }
}
