import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { type Clock, systemClock } from '../core/clock.js';
import { type ScheduleRecord, ScheduleRecordSchema, scheduleExpiry } from '../core/triggers/schedule.js';
import type { ScheduleStore } from '../ports/schedule-store.js';
import { isConditionFailure, putAtVersion, putIfAbsent } from './dynamo-writes.js';
import { withoutUndefined } from './job-item.js';
import { TableKeys } from './table-schema.js';

export interface DynamoScheduleStoreOptions {
  /** A document client that removes undefined values (see `createDocumentClient`). */
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** @default systemClock (expired one-time schedules are left out of listings) */
  readonly clock?: Clock;
}

const PK = TableKeys.partitionKey;
const SK = TableKeys.sortKey;
/**
 * All schedules live in one partition: there are few of them and they change rarely, so one Query lists them
 * all in id order without a scan or an index.
 */
const PARTITION = 'SCHEDULES';
const SCHEDULE = 'SCHEDULE#';
const CURSOR = 'CURSOR#';

/**
 * The ScheduleStore on the Offpeak table (items `SCHEDULES` / `SCHEDULE#<id>` and `CURSOR#<id>`), single-item
 * conditional writes only. One-time schedules get a TTL a month after their time.
 */
export class DynamoScheduleStore implements ScheduleStore {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #clock: Clock;

  constructor(options: DynamoScheduleStoreOptions) {
    this.#db = options.client;
    this.#table = options.tableName;
    this.#clock = options.clock ?? systemClock;
  }

  async createSchedule(schedule: ScheduleRecord): Promise<boolean> {
    return putIfAbsent(this.#db, this.#table, this.#item(schedule));
  }

  async getSchedule(id: string): Promise<ScheduleRecord | undefined> {
    const { Item } = await this.#db.send(
      new GetCommand({ TableName: this.#table, Key: key(SCHEDULE, id), ConsistentRead: true }),
    );
    return Item && !this.#expired(Item) ? fromItem(Item) : undefined;
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    const schedules: ScheduleRecord[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const result = await this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
          ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
          ExpressionAttributeValues: { ':pk': PARTITION, ':prefix': SCHEDULE },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of result.Items ?? []) if (!this.#expired(item)) schedules.push(fromItem(item));
      startKey = result.LastEvaluatedKey;
    } while (startKey);
    return schedules;
  }

  async updateSchedule(next: ScheduleRecord, expectedVersion: number): Promise<ScheduleRecord> {
    const stored = { ...next, version: expectedVersion + 1 };
    await putAtVersion(this.#db, this.#table, this.#item(stored), expectedVersion, {
      label: 'Schedule',
      id: next.id,
    });
    return stored;
  }

  async deleteSchedule(id: string): Promise<boolean> {
    const { Attributes } = await this.#db.send(
      new DeleteCommand({ TableName: this.#table, Key: key(SCHEDULE, id), ReturnValues: 'ALL_OLD' }),
    );
    return Attributes !== undefined;
  }

  async getCursor(id: string): Promise<Date | undefined> {
    const { Item } = await this.#db.send(
      new GetCommand({ TableName: this.#table, Key: key(CURSOR, id), ConsistentRead: true }),
    );
    return typeof Item?.handledUntil === 'string' ? new Date(Item.handledUntil) : undefined;
  }

  async setCursor(id: string, handledUntil: Date): Promise<void> {
    try {
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: key(CURSOR, id),
          UpdateExpression: 'SET #at = :at',
          // ISO instants in UTC sort as strings: never move a cursor back.
          ConditionExpression: 'attribute_not_exists(#at) OR #at < :at',
          ExpressionAttributeNames: { '#at': 'handledUntil' },
          ExpressionAttributeValues: { ':at': handledUntil.toISOString() },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  async deleteCursor(id: string): Promise<void> {
    await this.#db.send(new DeleteCommand({ TableName: this.#table, Key: key(CURSOR, id) }));
  }

  #item(schedule: ScheduleRecord): Record<string, unknown> {
    const expiry = scheduleExpiry(schedule);
    return {
      ...withoutUndefined(schedule),
      ...key(SCHEDULE, schedule.id),
      ...(expiry ? { [TableKeys.ttlAttribute]: Math.floor(expiry.getTime() / 1000) } : {}),
    };
  }

  /** dynalite has no TTL, and DynamoDB's runs late: an expired item is treated as gone. */
  #expired(item: Record<string, unknown>): boolean {
    const expiresAt = item[TableKeys.ttlAttribute];
    return typeof expiresAt === 'number' && expiresAt * 1000 < this.#clock.now().getTime();
  }
}

function key(prefix: string, id: string): Record<string, string> {
  return { [PK]: PARTITION, [SK]: `${prefix}${id}` };
}

function fromItem(item: Record<string, unknown>): ScheduleRecord {
  const { [PK]: _pk, [SK]: _sk, [TableKeys.ttlAttribute]: _ttl, ...fields } = item;
  return ScheduleRecordSchema.parse(fields);
}
