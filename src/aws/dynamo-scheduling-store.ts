import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { type Clock, systemClock } from '../core/clock.js';
import {
  type LimitOverrides,
  type QueueOverride,
  QueueOverrideSchema,
  type QueuePatch,
  type ResourceOverride,
  ResourceOverrideSchema,
  type ResourcePatch,
} from '../core/limits.js';
import { type Pipeline, PipelineSchema } from '../core/pipeline.js';
import type { RateLimit } from '../core/rate-limit.js';
import { fullBucket, type TokenBucketState, takeTokens } from '../core/token-bucket.js';
import type { SchedulingStore, TokenGrant } from '../ports/scheduling-store.js';
import { isConditionFailure, putAtVersion, putIfAbsent, sleep } from './dynamo-writes.js';
import { withoutUndefined } from './job-item.js';
import { TableIndexes, TableKeys } from './table-schema.js';

export interface DynamoSchedulingStoreOptions {
  /** A document client that removes undefined values (see `createDocumentClient`). */
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** @default systemClock (token refills, alert intervals, override timestamps) */
  readonly clock?: Clock;
}

type Item = Record<string, unknown>;

const PK = TableKeys.partitionKey;
const SK = TableKeys.sortKey;
const CONFIG_PK = 'CONFIG';
const PIPELINE_SK = 'PIPELINE';
/** State-index partition of pipelines whose creation has not finished. */
const UNFINISHED_PIPELINES = 'PIPELINES#CREATING';
/** A contended bucket is re-read and retried this often before the caller is told to come back later. */
const BUCKET_TRIES = 8;
const storageAttributes = [PK, SK, TableIndexes.state.partitionKey, TableIndexes.state.sortKey];

/**
 * The SchedulingStore on the job table (design §4): config items per queue and resource under one partition (read
 * with one query per dispatcher pass), a token bucket item per rate limit, an alert latch per alert, a pipeline item
 * per pipeline. See table-schema.ts for the layout.
 *
 * @example
 * const scheduling = new DynamoSchedulingStore({ client: clients.documentClient, tableName: 'offpeak' });
 * const { granted } = await scheduling.takeTokens('executor-submit', { limit: 40, periodSeconds: 1, burst: 40 }, 5);
 */
export class DynamoSchedulingStore implements SchedulingStore {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #clock: Clock;

  constructor(options: DynamoSchedulingStoreOptions) {
    this.#db = options.client;
    this.#table = options.tableName;
    this.#clock = options.clock ?? systemClock;
  }

  async limitOverrides(): Promise<LimitOverrides> {
    const queues: Record<string, QueueOverride> = {};
    const resources: Record<string, ResourceOverride> = {};
    let startKey: Item | undefined;
    do {
      const result = await this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': PK },
          ExpressionAttributeValues: { ':pk': CONFIG_PK },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of result.Items ?? []) {
        const sk = String(item[SK]);
        const { [PK]: _pk, [SK]: _sk, ...fields } = item;
        if (sk.startsWith('queue#')) queues[sk.slice(6)] = QueueOverrideSchema.parse(fields);
        else if (sk.startsWith('resource#')) resources[sk.slice(9)] = ResourceOverrideSchema.parse(fields);
      }
      startKey = result.LastEvaluatedKey;
    } while (startKey);
    return { queues, resources };
  }

  async patchQueue(queue: string, patch: QueuePatch): Promise<QueueOverride> {
    const item = await this.#patchConfig(`queue#${queue}`, {
      concurrency: patch.concurrency,
      paused: patch.paused,
    });
    return QueueOverrideSchema.parse(item);
  }

  async patchResource(resource: string, patch: ResourcePatch): Promise<ResourceOverride> {
    const item = await this.#patchConfig(`resource#${resource}`, { limit: patch.limit });
    return ResourceOverrideSchema.parse(item);
  }

  async takeTokens(bucket: string, rate: RateLimit, requested: number): Promise<TokenGrant> {
    for (let tries = 1; ; tries++) {
      const read = await this.#readBucket(bucket, rate);
      const take = takeTokens(read.state, rate, this.#clock.now().getTime(), requested);
      // Nothing granted: nothing to write (the refill is recomputed from the stored state next time).
      if (take.granted === 0) return { granted: 0, retryAfterMs: take.retryAfterMs };
      if (await this.#writeBucket(bucket, take.state, read.version)) {
        return { granted: take.granted, retryAfterMs: 0 };
      }
      if (tries >= BUCKET_TRIES) return { granted: 0, retryAfterMs: 50 };
      await sleep(Math.floor(Math.random() * 10 * tries));
    }
  }

  async blockTokens(bucket: string, _rate: RateLimit, pauseMs: number): Promise<void> {
    // One write, no read: every taker's conditional write on the old version then fails and re-reads the block.
    const nowMs = this.#clock.now().getTime();
    try {
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: bucketKey(bucket),
          UpdateExpression: 'SET #tokens = :zero, #updated = :now, #blocked = :until ADD #version :one',
          ConditionExpression: 'attribute_not_exists(#blocked) OR #blocked < :until',
          ExpressionAttributeNames: {
            '#tokens': 'tokens',
            '#updated': 'updatedAtMs',
            '#blocked': 'blockedUntilMs',
            '#version': 'version',
          },
          ExpressionAttributeValues: { ':zero': 0, ':now': nowMs, ':until': nowMs + pauseMs, ':one': 1 },
        }),
      );
    } catch (error) {
      // Already blocked for longer: nothing to do.
      if (!isConditionFailure(error)) throw error;
    }
  }

  async claimAlert(key: string, intervalMs: number): Promise<boolean> {
    const now = this.#clock.now();
    try {
      await this.#db.send(
        new PutCommand({
          TableName: this.#table,
          Item: { [PK]: `ALERT#${key}`, [SK]: 'ALERT', alertedAt: now.toISOString() },
          ConditionExpression: 'attribute_not_exists(#pk) OR #at <= :cutoff',
          ExpressionAttributeNames: { '#pk': PK, '#at': 'alertedAt' },
          ExpressionAttributeValues: { ':cutoff': new Date(now.getTime() - intervalMs).toISOString() },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async createPipeline(pipeline: Pipeline): Promise<boolean> {
    return putIfAbsent(this.#db, this.#table, pipelineItem(pipeline));
  }

  async getPipeline(id: string): Promise<Pipeline | undefined> {
    const result = await this.#db.send(
      new GetCommand({ TableName: this.#table, Key: pipelineKey(id), ConsistentRead: true }),
    );
    return result.Item ? fromPipelineItem(result.Item) : undefined;
  }

  async updatePipeline(next: Pipeline, expectedVersion: number): Promise<Pipeline> {
    const stored: Pipeline = { ...next, version: expectedVersion + 1 };
    await putAtVersion(this.#db, this.#table, pipelineItem(stored), expectedVersion, {
      label: 'Pipeline',
      id: next.id,
      details: { pipelineId: next.id },
    });
    return stored;
  }

  async unfinishedPipelines(before: Date, limit: number): Promise<Pipeline[]> {
    const index = TableIndexes.state;
    const result = await this.#db.send(
      new QueryCommand({
        TableName: this.#table,
        IndexName: index.name,
        KeyConditionExpression: '#ipk = :ipk AND #isk < :before',
        ExpressionAttributeNames: { '#ipk': index.partitionKey, '#isk': index.sortKey },
        ExpressionAttributeValues: { ':ipk': UNFINISHED_PIPELINES, ':before': before.toISOString() },
        ScanIndexForward: true,
        Limit: Math.max(1, Math.floor(limit)),
      }),
    );
    return (result.Items ?? []).map(fromPipelineItem);
  }

  async #patchConfig(sk: string, fields: Record<string, number | boolean | null | undefined>): Promise<Item> {
    const names: Record<string, string> = { '#updatedAt': 'updatedAt' };
    const values: Record<string, unknown> = { ':now': this.#clock.now().toISOString() };
    const set = ['#updatedAt = :now'];
    const remove: string[] = [];
    for (const [name, value] of Object.entries(fields)) {
      if (value === undefined) continue;
      names[`#${name}`] = name;
      if (value === null) remove.push(`#${name}`);
      else {
        values[`:${name}`] = value;
        set.push(`#${name} = :${name}`);
      }
    }
    const result = await this.#db.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: { [PK]: CONFIG_PK, [SK]: sk },
        UpdateExpression: `SET ${set.join(', ')}${remove.length > 0 ? ` REMOVE ${remove.join(', ')}` : ''}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }),
    );
    const { [PK]: _pk, [SK]: _sk, ...item } = result.Attributes ?? {};
    return item;
  }

  async #readBucket(bucket: string, rate: RateLimit): Promise<{ state: TokenBucketState; version?: number }> {
    const result = await this.#db.send(
      new GetCommand({ TableName: this.#table, Key: bucketKey(bucket), ConsistentRead: true }),
    );
    const item = result.Item;
    if (!item || typeof item.tokens !== 'number' || typeof item.updatedAtMs !== 'number') {
      return {
        state: fullBucket(rate, this.#clock.now().getTime()),
        ...(typeof item?.version === 'number' ? { version: item.version } : {}),
      };
    }
    return {
      state: {
        tokens: item.tokens,
        updatedAtMs: item.updatedAtMs,
        ...(typeof item.blockedUntilMs === 'number' ? { blockedUntilMs: item.blockedUntilMs } : {}),
      },
      ...(typeof item.version === 'number' ? { version: item.version } : {}),
    };
  }

  /** Writes a bucket conditionally on the version it was read at. @returns false when someone wrote first. */
  async #writeBucket(bucket: string, state: TokenBucketState, version: number | undefined): Promise<boolean> {
    try {
      await this.#db.send(
        new PutCommand({
          TableName: this.#table,
          Item: { ...bucketKey(bucket), ...withoutUndefined(state), version: (version ?? 0) + 1 },
          ConditionExpression: version === undefined ? 'attribute_not_exists(#pk)' : '#version = :version',
          ExpressionAttributeNames: version === undefined ? { '#pk': PK } : { '#version': 'version' },
          ...(version === undefined ? {} : { ExpressionAttributeValues: { ':version': version } }),
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }
}

function pipelineKey(id: string): Item {
  return { [PK]: `PIPELINE#${id}`, [SK]: PIPELINE_SK };
}

function bucketKey(bucket: string): Item {
  return { [PK]: `RATE#${bucket}`, [SK]: 'RATE' };
}

function pipelineItem(pipeline: Pipeline): Item {
  return {
    ...withoutUndefined(pipeline),
    ...pipelineKey(pipeline.id),
    // Sparse: only pipelines still being created are in the reconciler's view.
    ...(pipeline.created
      ? {}
      : {
          [TableIndexes.state.partitionKey]: UNFINISHED_PIPELINES,
          [TableIndexes.state.sortKey]: `${pipeline.createdAt}#${pipeline.id}`,
        }),
  };
}

function fromPipelineItem(item: Item): Pipeline {
  const fields: Item = { ...item };
  for (const attribute of storageAttributes) delete fields[attribute];
  return PipelineSchema.parse(fields);
}
