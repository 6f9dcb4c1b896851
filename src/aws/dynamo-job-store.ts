import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { type Clock, systemClock } from '../core/clock.js';
import { RetryableError, ValidationError } from '../core/errors.js';
import type { Job } from '../core/job.js';
import { isTerminal, type JobState } from '../core/job-state.js';
import type { QueueOrder } from '../core/queue-spec.js';
import type { IdempotencyClaim, JobStore, ListJobsQuery, Page, SlotUsage } from '../ports/job-store.js';
import { batchGetAll, isConditionFailure, putAtVersion, putIfAbsent } from './dynamo-writes.js';
import { fromJobItem, JOB_SORT_KEY, jobPk, keyPrefix, queueSortKey, toJobItem } from './job-item.js';
import { TableIndexes, TableKeys } from './table-schema.js';

export interface DynamoJobStoreOptions {
  /** A document client that removes undefined values (see `createDocumentClient`). */
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Order of each Offpeak queue among jobs of equal priority (from the catalog's queue specs). */
  readonly queueOrder: (queue: string) => QueueOrder;
  /**
   * @default systemClock (read for idempotency-key expiry, the current month when listing all jobs, and the time of a
   *   counter's last change)
   */
  readonly clock?: Clock;
  /**
   * Listing all jobs walks creation months backwards and stops after this many consecutive empty months.
   * @default 24
   */
  readonly maxEmptyMonths?: number;
  /**
   * Finished jobs (SUCCEEDED, FAILED, CANCELLED, SKIPPED) get a TTL this long after `finishedAt`, so DynamoDB
   * deletes them. @default undefined (kept forever)
   */
  readonly finishedJobTtlSeconds?: number;
}

type Key = Record<string, string>;
type Item = Record<string, unknown>;
type IndexName = keyof typeof TableIndexes;

/** What a `listJobs` cursor carries: the index it pages, where to resume, and (for all jobs) the month. */
interface Cursor {
  readonly i: IndexName;
  readonly k?: Key;
  readonly m?: string;
}

const PK = TableKeys.partitionKey;
const SK = TableKeys.sortKey;
const IDEM_SK = 'IDEM';
const SLOTS_SK = 'SLOTS';
/** Items evaluated per page when a filter may discard some: large enough to fill a page in few round trips. */
const FILTERED_PAGE = 200;
/** Bounds one filtered listing call; it then returns what it has and a cursor to continue. */
const MAX_PAGES_PER_CALL = 50;

/**
 * The JobStore on one DynamoDB table (design §4), with single-item conditional writes only.
 *
 * @example
 * const store = new DynamoJobStore({ client: clients.documentClient, tableName: 'offpeak',
 *   queueOrder: (queue) => catalog.queue(queue).order });
 */
export class DynamoJobStore implements JobStore {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #queueOrder: (queue: string) => QueueOrder;
  readonly #clock: Clock;
  readonly #maxEmptyMonths: number;
  readonly #finishedJobTtlSeconds: number | undefined;

  constructor(options: DynamoJobStoreOptions) {
    this.#db = options.client;
    this.#table = options.tableName;
    this.#queueOrder = options.queueOrder;
    this.#clock = options.clock ?? systemClock;
    this.#maxEmptyMonths = options.maxEmptyMonths ?? 24;
    this.#finishedJobTtlSeconds = options.finishedJobTtlSeconds;
  }

  async claimIdempotencyKey(key: string, jobId: string, expiresAt: Date): Promise<IdempotencyClaim> {
    // A key can vanish (released, or expired and overwritten) between our failed put and our read: try again.
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.#db.send(
          new PutCommand({
            TableName: this.#table,
            Item: {
              [PK]: idemPk(key),
              [SK]: IDEM_SK,
              jobId,
              [TableKeys.ttlAttribute]: epochSeconds(expiresAt),
              claimedAt: this.#clock.now().toISOString(),
            },
            // dynalite (and TTL's lag on DynamoDB) keeps expired items: the condition treats them as absent.
            ConditionExpression: 'attribute_not_exists(#pk) OR #exp < :now',
            ExpressionAttributeNames: { '#pk': PK, '#exp': TableKeys.ttlAttribute },
            ExpressionAttributeValues: { ':now': epochSeconds(this.#clock.now()) },
          }),
        );
        return { claimed: true };
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
      const existing = await this.#db.send(
        new GetCommand({
          TableName: this.#table,
          Key: { [PK]: idemPk(key), [SK]: IDEM_SK },
          ConsistentRead: true,
        }),
      );
      const owner = existing.Item?.jobId;
      const expiry = existing.Item?.[TableKeys.ttlAttribute];
      if (
        typeof owner === 'string' &&
        typeof expiry === 'number' &&
        expiry >= epochSeconds(this.#clock.now())
      ) {
        return { claimed: false, jobId: owner };
      }
    }
    throw new RetryableError(
      'IdempotencyKeyContention',
      `Idempotency key kept changing while claiming it: ${key}`,
    );
  }

  async releaseIdempotencyKey(key: string): Promise<boolean> {
    const result = await this.#db.send(
      new DeleteCommand({
        TableName: this.#table,
        Key: { [PK]: idemPk(key), [SK]: IDEM_SK },
        ReturnValues: 'ALL_OLD',
      }),
    );
    return result.Attributes !== undefined;
  }

  async createJob(job: Job): Promise<boolean> {
    return putIfAbsent(this.#db, this.#table, this.#item(job));
  }

  async getJob(id: string): Promise<Job | undefined> {
    const result = await this.#db.send(
      new GetCommand({ TableName: this.#table, Key: jobKey(id), ConsistentRead: true }),
    );
    return result.Item ? fromJobItem(result.Item) : undefined;
  }

  async getJobs(ids: readonly string[]): Promise<Job[]> {
    const items = await batchGetAll(this.#db, this.#table, [...new Set(ids)].map(jobKey), 'jobs');
    return items.map(fromJobItem);
  }

  async updateJob(next: Job, expectedVersion: number): Promise<Job> {
    const stored: Job = { ...next, version: expectedVersion + 1 };
    // A whole-item put (not an UpdateItem) so that every attribute that no longer applies disappears with it:
    // the queue-index keys when leaving QUEUED, and optional fields the new version cleared.
    await putAtVersion(this.#db, this.#table, this.#item(stored), expectedVersion, {
      label: 'Job',
      id: next.id,
      details: { jobId: next.id },
    });
    return stored;
  }

  async listJobs(query: ListJobsQuery): Promise<Page<Job>> {
    const limit = Math.max(1, Math.min(100, Math.floor(query.limit)));
    if (query.type !== undefined) {
      const index = TableIndexes.type;
      const cursor = decodeCursor(query.cursor, 'type', `${keyPrefix.type}${query.type}`);
      const page = await this.#collect(
        {
          IndexName: index.name,
          KeyConditionExpression: '#ipk = :ipk',
          ExpressionAttributeNames: {
            '#ipk': index.partitionKey,
            ...(query.state !== undefined ? { '#state': 'state' } : {}),
          },
          ExpressionAttributeValues: {
            ':ipk': `${keyPrefix.type}${query.type}`,
            ...(query.state !== undefined ? { ':state': query.state } : {}),
          },
          ...(query.state !== undefined ? { FilterExpression: '#state = :state' } : {}),
          ScanIndexForward: false,
        },
        'type',
        limit,
        cursor?.k,
        query.state !== undefined,
      );
      return toPage(page.items, page.lastKey && { i: 'type', k: page.lastKey });
    }
    if (query.state !== undefined) {
      const index = TableIndexes.state;
      const cursor = decodeCursor(query.cursor, 'state', `${keyPrefix.state}${query.state}`);
      const page = await this.#collect(
        {
          IndexName: index.name,
          KeyConditionExpression: '#ipk = :ipk',
          ExpressionAttributeNames: { '#ipk': index.partitionKey },
          ExpressionAttributeValues: { ':ipk': `${keyPrefix.state}${query.state}` },
          ScanIndexForward: false,
        },
        'state',
        limit,
        cursor?.k,
        false,
      );
      return toPage(page.items, page.lastKey && { i: 'state', k: page.lastKey });
    }
    return this.#listAll(limit, query.cursor);
  }

  async queuedJobs(queue: string, limit: number, startAfter?: Job): Promise<Job[]> {
    const index = TableIndexes.queue;
    const ipk = `${keyPrefix.queue}${queue}`;
    // The index key the job had while it was QUEUED, rebuilt from the job: a page boundary needs no cursor.
    const startKey: Key | undefined = startAfter && {
      ...jobKey(startAfter.id),
      [index.partitionKey]: ipk,
      [index.sortKey]: queueSortKey(startAfter.priority, startAfter.id, this.#queueOrder(queue)),
    };
    const page = await this.#collect(
      {
        IndexName: index.name,
        KeyConditionExpression: '#ipk = :ipk',
        ExpressionAttributeNames: { '#ipk': index.partitionKey },
        ExpressionAttributeValues: { ':ipk': ipk },
        ScanIndexForward: true,
      },
      'queue',
      Math.max(1, Math.floor(limit)),
      startKey,
      false,
    );
    return page.items.map(fromJobItem);
  }

  async countQueued(queue: string, max: number): Promise<number> {
    const index = TableIndexes.queue;
    let count = 0;
    let startKey: Item | undefined;
    do {
      const result = await this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          IndexName: index.name,
          KeyConditionExpression: '#ipk = :ipk',
          ExpressionAttributeNames: { '#ipk': index.partitionKey },
          ExpressionAttributeValues: { ':ipk': `${keyPrefix.queue}${queue}` },
          Select: 'COUNT',
          Limit: Math.max(1, max - count),
          ExclusiveStartKey: startKey,
        }),
      );
      count += result.Count ?? 0;
      startKey = result.LastEvaluatedKey;
    } while (startKey && count < max);
    return Math.min(count, max);
  }

  async jobsInStateSince(state: JobState, before: Date, limit: number, after?: Date): Promise<Job[]> {
    const index = TableIndexes.state;
    // Sort keys are `<stateChangedAt ISO>#<id>`: a bare ISO time sorts before every key of that millisecond.
    const page = await this.#collect(
      {
        IndexName: index.name,
        KeyConditionExpression: after
          ? '#ipk = :ipk AND #isk BETWEEN :after AND :before'
          : '#ipk = :ipk AND #isk < :before',
        ExpressionAttributeNames: { '#ipk': index.partitionKey, '#isk': index.sortKey },
        ExpressionAttributeValues: {
          ':ipk': `${keyPrefix.state}${state}`,
          ':before': before.toISOString(),
          ...(after ? { ':after': after.toISOString() } : {}),
        },
        ScanIndexForward: true,
      },
      'state',
      Math.max(1, Math.floor(limit)),
      undefined,
      false,
    );
    return page.items.map(fromJobItem);
  }

  async acquireSlot(counter: string, limit: number, units = 1): Promise<boolean> {
    if (units > limit) return false;
    try {
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: slotsKey(counter),
          UpdateExpression: 'ADD #used :units, #version :one SET #changedAt = :now',
          ConditionExpression: 'attribute_not_exists(#used) OR #used <= :max',
          ExpressionAttributeNames: { '#used': 'used', '#version': 'version', '#changedAt': 'changedAt' },
          ExpressionAttributeValues: {
            ':units': units,
            ':one': 1,
            ':max': limit - units,
            ':now': this.#clock.now().toISOString(),
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async releaseSlot(counter: string, units = 1, token?: string): Promise<void> {
    try {
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: slotsKey(counter),
          UpdateExpression: `ADD #used :minus, #version :one SET #changedAt = :now${token ? ', #last = :token' : ''}`,
          ConditionExpression: token
            ? '#used >= :units AND (attribute_not_exists(#last) OR #last <> :token)'
            : '#used >= :units',
          ExpressionAttributeNames: {
            '#used': 'used',
            '#version': 'version',
            '#changedAt': 'changedAt',
            ...(token ? { '#last': 'lastRelease' } : {}),
          },
          ExpressionAttributeValues: {
            ':minus': -units,
            ':units': units,
            ':one': 1,
            ':now': this.#clock.now().toISOString(),
            ...(token ? { ':token': token } : {}),
          },
        }),
      );
    } catch (error) {
      // Below zero (a recount already gave it back) or a repeat of the last release: nothing to give back.
      if (!isConditionFailure(error)) throw error;
    }
  }

  async slotUsage(counter: string): Promise<SlotUsage> {
    const result = await this.#db.send(
      new GetCommand({ TableName: this.#table, Key: slotsKey(counter), ConsistentRead: true }),
    );
    const used = result.Item?.used;
    const version = result.Item?.version;
    const changedAt = result.Item?.changedAt;
    return {
      used: typeof used === 'number' ? used : 0,
      version: typeof version === 'number' ? version : 0,
      ...(typeof changedAt === 'string' ? { changedAt } : {}),
    };
  }

  async resetSlots(counter: string, used: number, expectedVersion: number): Promise<boolean> {
    try {
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: slotsKey(counter),
          UpdateExpression: 'SET #used = :used, #version = :next, #changedAt = :now',
          // A counter never written reads as version 0 (see slotUsage).
          ConditionExpression:
            expectedVersion === 0
              ? 'attribute_not_exists(#version) OR #version = :expected'
              : '#version = :expected',
          ExpressionAttributeNames: { '#used': 'used', '#version': 'version', '#changedAt': 'changedAt' },
          ExpressionAttributeValues: {
            ':used': used,
            ':next': expectedVersion + 1,
            ':expected': expectedVersion,
            ':now': this.#clock.now().toISOString(),
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async addDependent(dependencyId: string, dependentId: string): Promise<void> {
    await this.#db.send(
      new PutCommand({
        TableName: this.#table,
        Item: { [PK]: depsPk(dependencyId), [SK]: dependentId, dependencyId, dependentId },
      }),
    );
  }

  async dependentsOf(dependencyId: string): Promise<string[]> {
    const dependents: string[] = [];
    let startKey: Item | undefined;
    do {
      const result = await this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
          ExpressionAttributeValues: { ':pk': depsPk(dependencyId) },
          ProjectionExpression: '#sk',
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of result.Items ?? []) {
        if (typeof item[SK] === 'string') dependents.push(item[SK]);
      }
      startKey = result.LastEvaluatedKey;
    } while (startKey);
    return dependents;
  }

  #item(job: Job): Item {
    const ttl = this.#finishedJobTtlSeconds;
    const expiresAt =
      ttl !== undefined && isTerminal(job.state) && job.finishedAt !== undefined
        ? epochSeconds(new Date(job.finishedAt)) + ttl
        : undefined;
    return toJobItem(job, this.#queueOrder(job.queue), expiresAt);
  }

  /** All jobs, newest first: the created index, one month partition at a time, walking backwards. */
  async #listAll(limit: number, rawCursor: string | undefined): Promise<Page<Job>> {
    const index = TableIndexes.created;
    const cursor = decodeCursor(rawCursor, 'created');
    let month = cursor?.m ?? this.#clock.now().toISOString().slice(0, 7);
    let startKey = cursor?.k;
    if (startKey && startKey[index.partitionKey] !== `${keyPrefix.created}${month}`) {
      throw invalidCursor();
    }
    const items: Item[] = [];
    let emptyMonths = 0;
    while (items.length < limit) {
      const page = await this.#collect(
        {
          IndexName: index.name,
          KeyConditionExpression: '#ipk = :ipk',
          ExpressionAttributeNames: { '#ipk': index.partitionKey },
          ExpressionAttributeValues: { ':ipk': `${keyPrefix.created}${month}` },
          ScanIndexForward: false,
        },
        'created',
        limit - items.length,
        startKey,
        false,
      );
      items.push(...page.items);
      if (page.lastKey) return toPage(items, { i: 'created', m: month, k: page.lastKey });
      emptyMonths = page.items.length === 0 ? emptyMonths + 1 : 0;
      if (emptyMonths >= this.#maxEmptyMonths) return toPage(items, undefined);
      month = previousMonth(month);
      startKey = undefined;
    }
    return toPage(items, { i: 'created', m: month });
  }

  /**
   * Queries until `limit` items are collected or the index is exhausted. A filter may discard items, so a page can
   * hold fewer than `Limit`; when a page holds more than fits, the cursor is the key of the last item kept.
   */
  async #collect(
    params: Omit<QueryCommandInput, 'TableName' | 'Limit' | 'ExclusiveStartKey'>,
    index: IndexName,
    limit: number,
    startKey: Key | undefined,
    filtered: boolean,
  ): Promise<{ items: Item[]; lastKey?: Key }> {
    const items: Item[] = [];
    let exclusiveStartKey: Key | undefined = startKey;
    for (let pages = 0; ; pages++) {
      const room = limit - items.length;
      const result = await this.#db.send(
        new QueryCommand({
          ...params,
          TableName: this.#table,
          Limit: filtered ? Math.max(room, FILTERED_PAGE) : room,
          ExclusiveStartKey: exclusiveStartKey,
        }),
      );
      const got = result.Items ?? [];
      if (got.length > room) {
        const kept = got.slice(0, room);
        items.push(...kept);
        return { items, lastKey: indexKeyOf(kept[kept.length - 1] as Item, index) };
      }
      items.push(...got);
      exclusiveStartKey = result.LastEvaluatedKey as Key | undefined;
      if (!exclusiveStartKey) return { items };
      if (items.length >= limit || pages + 1 >= MAX_PAGES_PER_CALL)
        return { items, lastKey: exclusiveStartKey };
    }
  }
}

function toPage(items: Item[], cursor: Cursor | undefined): Page<Job> {
  const jobs = items.map(fromJobItem);
  return cursor ? { items: jobs, cursor: encodeCursor(cursor) } : { items: jobs };
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
}

/**
 * Parses and checks a cursor: it must be ours, for the same index, and (when given) for the same partition, so a
 * cursor from another listing is refused instead of silently paging the wrong index.
 */
function decodeCursor(raw: string | undefined, index: IndexName, partition?: string): Cursor | undefined {
  if (raw === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalidCursor();
  const { i, k, m } = parsed as Record<string, unknown>;
  if (i !== index) throw invalidCursor();
  if (m !== undefined && (typeof m !== 'string' || !/^\d{4}-\d{2}$/.test(m))) throw invalidCursor();
  if (index === 'created' && m === undefined) throw invalidCursor();
  if (k !== undefined && !isIndexKey(k, index)) throw invalidCursor();
  if (partition !== undefined && k !== undefined && k[TableIndexes[index].partitionKey] !== partition) {
    throw invalidCursor();
  }
  return { i: index, ...(k !== undefined ? { k } : {}), ...(m !== undefined ? { m } : {}) };
}

function isIndexKey(value: unknown, index: IndexName): value is Key {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const expected = keyAttributes(index);
  const entries = Object.entries(value);
  return (
    entries.length === expected.length &&
    entries.every(([name, v]) => expected.includes(name) && typeof v === 'string' && v.length > 0)
  );
}

function keyAttributes(index: IndexName): string[] {
  return [PK, SK, TableIndexes[index].partitionKey, TableIndexes[index].sortKey];
}

function indexKeyOf(item: Item, index: IndexName): Key {
  const key: Key = {};
  for (const name of keyAttributes(index)) key[name] = String(item[name]);
  return key;
}

function invalidCursor(): ValidationError {
  return new ValidationError('InvalidCursor', 'The cursor is malformed or belongs to another listing');
}

function previousMonth(month: string): string {
  const [year, mm] = month.split('-').map(Number) as [number, number];
  return mm === 1 ? `${year - 1}-12` : `${year}-${String(mm - 1).padStart(2, '0')}`;
}

function jobKey(id: string): Item {
  return { [PK]: jobPk(id), [SK]: JOB_SORT_KEY };
}

function idemPk(key: string): string {
  return `IDEM#${key}`;
}

function slotsKey(counter: string): Item {
  return { [PK]: `SLOTS#${counter}`, [SK]: SLOTS_SK };
}

function depsPk(dependencyId: string): string {
  return `DEPS#${dependencyId}`;
}

function epochSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}
