import { ConcurrentUpdateError, ValidationError } from '../../../src/core/errors.js';
import type { Job } from '../../../src/core/job.js';
import { JobState } from '../../../src/core/job-state.js';
import type {
  IdempotencyClaim,
  JobStore,
  ListJobsQuery,
  Page,
  SlotUsage,
} from '../../../src/ports/job-store.js';

/**
 * An in-memory JobStore with the same guarantees as the DynamoDB adapter (conditional writes, version checks,
 * bounded slots), for fast unit tests of the core services. Copies on the way in and out, like a real store.
 */
export class MemoryJobStore implements JobStore {
  readonly jobs = new Map<string, Job>();
  readonly keys = new Map<string, { jobId: string; expiresAt: number }>();
  readonly slots = new Map<
    string,
    { used: number; version: number; changedAt?: string; lastRelease?: string }
  >();
  readonly edges = new Map<string, Set<string>>();
  /** Counts of each write, to assert costs. */
  readonly writes = { job: 0, slot: 0 };

  constructor(
    private readonly now: () => Date = () => new Date(),
    private readonly queueOrder: (queue: string) => 'fifo' | 'lifo' = () => 'fifo',
  ) {}

  async claimIdempotencyKey(key: string, jobId: string, expiresAt: Date): Promise<IdempotencyClaim> {
    const existing = this.keys.get(key);
    if (existing && existing.expiresAt > this.now().getTime())
      return { claimed: false, jobId: existing.jobId };
    this.keys.set(key, { jobId, expiresAt: expiresAt.getTime() });
    return { claimed: true };
  }

  async releaseIdempotencyKey(key: string): Promise<boolean> {
    return this.keys.delete(key);
  }

  async createJob(job: Job): Promise<boolean> {
    if (this.jobs.has(job.id)) return false;
    this.writes.job++;
    this.jobs.set(job.id, structuredClone(dropUndefined({ ...job, version: 0 })));
    return true;
  }

  async getJob(id: string): Promise<Job | undefined> {
    const job = this.jobs.get(id);
    return job ? structuredClone(job) : undefined;
  }

  async getJobs(ids: readonly string[]): Promise<Job[]> {
    return [...new Set(ids)].flatMap((id) => {
      const job = this.jobs.get(id);
      return job ? [structuredClone(job)] : [];
    });
  }

  async updateJob(next: Job, expectedVersion: number): Promise<Job> {
    const current = this.jobs.get(next.id);
    if (!current || current.version !== expectedVersion) {
      throw new ConcurrentUpdateError(
        'ConcurrentUpdate',
        `Job ${next.id} changed (expected v${expectedVersion})`,
      );
    }
    this.writes.job++;
    const stored = structuredClone(dropUndefined({ ...next, version: expectedVersion + 1 }));
    this.jobs.set(next.id, stored);
    return structuredClone(stored);
  }

  async listJobs(query: ListJobsQuery): Promise<Page<Job>> {
    const listing = `${query.state ?? ''}|${query.type ?? ''}`;
    const all = [...this.jobs.values()]
      .filter((j) => (!query.state || j.state === query.state) && (!query.type || j.type === query.type))
      .sort((a, b) => (a.id < b.id ? 1 : -1));
    let start = 0;
    if (query.cursor !== undefined) {
      const after = decodeCursor(query.cursor, listing);
      start = all.findIndex((j) => j.id < after);
      if (start < 0) start = all.length;
    }
    const items = all.slice(start, start + query.limit);
    const last = items.at(-1);
    const more = start + query.limit < all.length && last;
    return { items: structuredClone(items), ...(more ? { cursor: encodeCursor(listing, last.id) } : {}) };
  }

  async queuedJobs(queue: string, limit: number, startAfter?: Job): Promise<Job[]> {
    const lifo = this.queueOrder(queue) === 'lifo';
    const order = (a: Pick<Job, 'priority' | 'id'>, b: Pick<Job, 'priority' | 'id'>) =>
      b.priority - a.priority || (a.id < b.id ? (lifo ? 1 : -1) : a.id === b.id ? 0 : lifo ? -1 : 1);
    return [...this.jobs.values()]
      .filter((j) => j.state === JobState.Queued && j.queue === queue)
      .filter((j) => !startAfter || order(startAfter, j) < 0)
      .sort(order)
      .slice(0, limit)
      .map((j) => structuredClone(j));
  }

  async countQueued(queue: string, max: number): Promise<number> {
    const count = [...this.jobs.values()].filter(
      (j) => j.state === JobState.Queued && j.queue === queue,
    ).length;
    return Math.min(count, max);
  }

  async jobsInStateSince(state: JobState, before: Date, limit: number, after?: Date): Promise<Job[]> {
    return [...this.jobs.values()]
      .filter(
        (j) =>
          j.state === state &&
          j.stateChangedAt < before.toISOString() &&
          (!after || j.stateChangedAt >= after.toISOString()),
      )
      .sort((a, b) => (`${a.stateChangedAt}#${a.id}` < `${b.stateChangedAt}#${b.id}` ? -1 : 1))
      .slice(0, limit)
      .map((j) => structuredClone(j));
  }

  async acquireSlot(counter: string, limit: number, units = 1): Promise<boolean> {
    const slot = this.slots.get(counter) ?? { used: 0, version: 0 };
    if (slot.used + units > limit) return false;
    this.writes.slot++;
    this.slots.set(counter, {
      ...slot,
      used: slot.used + units,
      version: slot.version + 1,
      changedAt: this.now().toISOString(),
    });
    return true;
  }

  async releaseSlot(counter: string, units = 1, token?: string): Promise<void> {
    const slot = this.slots.get(counter);
    if (!slot || slot.used < units || (token !== undefined && slot.lastRelease === token)) return;
    this.writes.slot++;
    this.slots.set(counter, {
      ...slot,
      used: slot.used - units,
      version: slot.version + 1,
      changedAt: this.now().toISOString(),
      ...(token !== undefined ? { lastRelease: token } : {}),
    });
  }

  async slotUsage(counter: string): Promise<SlotUsage> {
    const slot = this.slots.get(counter);
    if (!slot) return { used: 0, version: 0 };
    return {
      used: slot.used,
      version: slot.version,
      ...(slot.changedAt !== undefined ? { changedAt: slot.changedAt } : {}),
    };
  }

  async resetSlots(counter: string, used: number, expectedVersion: number): Promise<boolean> {
    const slot = this.slots.get(counter) ?? { used: 0, version: 0 };
    if (slot.version !== expectedVersion) return false;
    this.slots.set(counter, {
      ...slot,
      used,
      version: slot.version + 1,
      changedAt: this.now().toISOString(),
    });
    return true;
  }

  async addDependent(dependencyId: string, dependentId: string): Promise<void> {
    const set = this.edges.get(dependencyId) ?? new Set<string>();
    set.add(dependentId);
    this.edges.set(dependencyId, set);
  }

  async dependentsOf(dependencyId: string): Promise<string[]> {
    return [...(this.edges.get(dependencyId) ?? [])];
  }
}

function encodeCursor(listing: string, id: string): string {
  return Buffer.from(JSON.stringify({ l: listing, id })).toString('base64url');
}

function decodeCursor(cursor: string, listing: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as {
      l?: unknown;
      id?: unknown;
    };
    if (parsed.l === listing && typeof parsed.id === 'string') return parsed.id;
  } catch {
    // reported below
  }
  throw new ValidationError('InvalidCursor', 'The cursor is malformed or belongs to another listing');
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
