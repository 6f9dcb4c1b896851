import { jobIdTime } from '../core/ids.js';
import { type Job, JobSchema } from '../core/job.js';
import { JobState } from '../core/job-state.js';
import type { QueueOrder } from '../core/queue-spec.js';
import { TableIndexes, TableKeys } from './table-schema.js';

/**
 * How a job is laid out in the single table (see table-schema.ts): pure functions, so the ordering keys can be
 * tested without a table.
 */

export const JOB_SORT_KEY = 'JOB';

export function jobPk(id: string): string {
  return `JOB#${id}`;
}

/** Every attribute of a job item that is not a Job field. */
export const storageAttributes: readonly string[] = [
  TableKeys.partitionKey,
  TableKeys.sortKey,
  TableKeys.ttlAttribute,
  ...Object.values(TableIndexes).flatMap((index) => [index.partitionKey, index.sortKey]),
];

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A ULID whose ascending order is the reverse of the original's: each Crockford base-32 character `c` becomes
 * `alphabet[31 - index(c)]`. Used for LIFO queues, whose index is read ascending like FIFO ones.
 *
 * @example invertUlid('00000000000000000000000000') // 'ZZZZZZZZZZZZZZZZZZZZZZZZZZ'
 */
export function invertUlid(id: string): string {
  let inverted = '';
  for (const char of id.toUpperCase()) {
    const index = CROCKFORD.indexOf(char);
    if (index < 0) throw new RangeError(`not a Crockford base-32 character in job id ${id}: ${char}`);
    inverted += CROCKFORD[31 - index];
  }
  return inverted;
}

/**
 * Sort key of a QUEUED job in the queue index: ascending order is dispatch order (highest priority first, then
 * oldest first for FIFO or newest first for LIFO).
 *
 * @example queueSortKey(500, '01J0000000000000000000000A', 'fifo') // '0500#01J0000000000000000000000A'
 */
export function queueSortKey(priority: number, id: string, order: QueueOrder): string {
  const rank = String(1000 - priority).padStart(4, '0');
  return `${rank}#${order === 'lifo' ? invertUlid(id) : id}`;
}

/** `yyyy-mm` (UTC) of the job's creation, from its ULID. */
export function creationMonth(id: string): string {
  return jobIdTime(id).toISOString().slice(0, 7);
}

export const keyPrefix = {
  queue: 'QUEUE#',
  state: 'STATE#',
  type: 'TYPE#',
  created: 'CREATED#',
} as const;

/**
 * The job as a table item: keys, Job fields, and the index attributes that apply to its current state.
 * @param expiresAt epoch seconds after which DynamoDB's TTL may delete the item (finished jobs only)
 */
export function toJobItem(job: Job, order: QueueOrder, expiresAt?: number): Record<string, unknown> {
  const q = TableIndexes.queue;
  const s = TableIndexes.state;
  const t = TableIndexes.type;
  const c = TableIndexes.created;
  return {
    ...withoutUndefined(job),
    [TableKeys.partitionKey]: jobPk(job.id),
    [TableKeys.sortKey]: JOB_SORT_KEY,
    // Sparse: only QUEUED jobs are in the queue index. A whole-item put drops these attributes otherwise.
    ...(job.state === JobState.Queued
      ? {
          [q.partitionKey]: `${keyPrefix.queue}${job.queue}`,
          [q.sortKey]: queueSortKey(job.priority, job.id, order),
        }
      : {}),
    [s.partitionKey]: `${keyPrefix.state}${job.state}`,
    [s.sortKey]: `${job.stateChangedAt}#${job.id}`,
    [t.partitionKey]: `${keyPrefix.type}${job.type}`,
    [t.sortKey]: job.id,
    [c.partitionKey]: `${keyPrefix.created}${creationMonth(job.id)}`,
    [c.sortKey]: job.id,
    ...(expiresAt !== undefined ? { [TableKeys.ttlAttribute]: expiresAt } : {}),
  };
}

/** The Job stored in an item (storage attributes stripped, validated by the schema). */
export function fromJobItem(item: Record<string, unknown>): Job {
  const fields: Record<string, unknown> = { ...item };
  for (const attribute of storageAttributes) delete fields[attribute];
  return JobSchema.parse(fields);
}

/** A deep copy without `undefined` values (DynamoDB has no undefined; optional fields are simply absent). */
export function withoutUndefined<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => withoutUndefined(v)) as T;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = withoutUndefined(v);
    return out as T;
  }
  return value;
}
