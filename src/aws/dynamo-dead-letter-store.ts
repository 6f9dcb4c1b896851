import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { type Clock, systemClock } from '../core/clock.js';
import { type DeadLetter, DeadLetterSchema } from '../core/dead-letter.js';
import { ValidationError } from '../core/errors.js';
import type {
  DeadLetterStore,
  ListDeadLettersQuery,
  MessageFailureNote,
} from '../ports/dead-letter-store.js';
import type { Page } from '../ports/job-store.js';
import { batchGetAll, putAtVersion, putIfAbsent } from './dynamo-writes.js';
import { withoutUndefined } from './job-item.js';
import { TableIndexes, TableKeys } from './table-schema.js';

export interface DynamoDeadLetterStoreOptions {
  /** A document client that removes undefined values (see `createDocumentClient`). */
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** @default systemClock (expiry of redriven records and failure notes) */
  readonly clock?: Clock;
  /** How long a redriven dead letter is kept before DynamoDB's TTL deletes it. @default 30 days */
  readonly redrivenRetentionSeconds?: number;
  /** How long a message's last-error note is kept (longer than SQS keeps a dead message). @default 15 days */
  readonly failureNoteRetentionSeconds?: number;
}

type Item = Record<string, unknown>;
type Key = Record<string, string>;
type IndexName = 'state' | 'type' | 'created';

const PK = TableKeys.partitionKey;
const SK = TableKeys.sortKey;
const DL_SK = 'DEADLETTER';
const NOTE_SK = 'MSGFAIL';
const FILTERED_PAGE = 200;
const MAX_PAGES_PER_CALL = 50;

/** Attributes of a dead-letter item that are not DeadLetter fields. */
const storageAttributes: readonly string[] = [
  PK,
  SK,
  TableKeys.ttlAttribute,
  ...Object.values(TableIndexes).flatMap((index) => [index.partitionKey, index.sortKey]),
];

/**
 * Dead letters in the job table (design §4: one table, single-item conditional writes). Listing reuses the
 * table's indexes with their own partitions (GSI overloading), so no index is added:
 *
 * - item: pk `DEADLETTER#<id>`, sk `DEADLETTER`
 * - state-index: `DEADLETTERS#<status>` / `<createdAt>#<id>`: every dead letter of a status, by time
 * - type-index: `DEADLETTERS#<status>#TYPE#<type>` / `<createdAt>#<id>`: by job type
 * - created-index: `DEADLETTERS#<status>#KIND#<kind>` / `<createdAt>#<id>`: by kind (job | message)
 * - redriven records get a TTL (`expiresAt`); open ones stay until redriven or deleted.
 * - message failure notes: pk `MSGFAIL#<messageId>`, sk `MSGFAIL`, with a TTL.
 *
 * @example
 * const deadLetters = new DynamoDeadLetterStore({ client: clients.documentClient, tableName: 'offpeak' });
 */
export class DynamoDeadLetterStore implements DeadLetterStore {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #clock: Clock;
  readonly #redrivenRetention: number;
  readonly #noteRetention: number;

  constructor(options: DynamoDeadLetterStoreOptions) {
    this.#db = options.client;
    this.#table = options.tableName;
    this.#clock = options.clock ?? systemClock;
    this.#redrivenRetention = options.redrivenRetentionSeconds ?? 30 * 86_400;
    this.#noteRetention = options.failureNoteRetentionSeconds ?? 15 * 86_400;
  }

  async putDeadLetter(record: DeadLetter): Promise<boolean> {
    return putIfAbsent(this.#db, this.#table, this.#item({ ...record, version: 0 }));
  }

  async getDeadLetter(id: string): Promise<DeadLetter | undefined> {
    const result = await this.#db.send(
      new GetCommand({ TableName: this.#table, Key: key(id), ConsistentRead: true }),
    );
    return result.Item ? fromItem(result.Item) : undefined;
  }

  async getDeadLetters(ids: readonly string[]): Promise<DeadLetter[]> {
    const items = await batchGetAll(this.#db, this.#table, [...new Set(ids)].map(key), 'dead letters');
    return items.map(fromItem);
  }

  async listDeadLetters(query: ListDeadLettersQuery): Promise<Page<DeadLetter>> {
    const limit = Math.max(1, Math.min(100, Math.floor(query.limit)));
    const status = `DEADLETTERS#${query.status}`;
    const [indexName, partition, kindFilter]: [IndexName, string, boolean] =
      query.type !== undefined
        ? ['type', `${status}#TYPE#${query.type}`, query.kind !== undefined]
        : query.kind !== undefined
          ? ['created', `${status}#KIND#${query.kind}`, false]
          : ['state', status, false];
    const index = TableIndexes[indexName];
    const startKey = decodeCursor(query.cursor, indexName, partition);
    // Sort keys are `<createdAt ISO>#<id>`: a bare ISO time sorts before every key of that millisecond, so
    // `>= from` is inclusive and `< to` exclusive.
    const range =
      query.from && query.to
        ? ' AND #isk BETWEEN :from AND :to'
        : query.from
          ? ' AND #isk >= :from'
          : query.to
            ? ' AND #isk < :to'
            : '';
    const names: Record<string, string> = { '#ipk': index.partitionKey };
    if (range) names['#isk'] = index.sortKey;
    if (kindFilter) names['#kind'] = 'kind';
    const values: Record<string, unknown> = { ':ipk': partition };
    if (query.from) values[':from'] = query.from.toISOString();
    if (query.to) values[':to'] = query.to.toISOString();
    if (kindFilter) values[':kind'] = query.kind;

    const items: Item[] = [];
    let exclusiveStartKey: Key | undefined = startKey;
    for (let pages = 0; ; pages++) {
      const room = limit - items.length;
      const result = await this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          IndexName: index.name,
          KeyConditionExpression: `#ipk = :ipk${range}`,
          ...(kindFilter ? { FilterExpression: '#kind = :kind' } : {}),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ScanIndexForward: false,
          Limit: kindFilter ? Math.max(room, FILTERED_PAGE) : room,
          ExclusiveStartKey: exclusiveStartKey,
        }),
      );
      const got = result.Items ?? [];
      if (got.length > room) {
        const kept = got.slice(0, room);
        items.push(...kept);
        return page(items, indexName, keyOf(kept[kept.length - 1] as Item, indexName));
      }
      items.push(...got);
      exclusiveStartKey = result.LastEvaluatedKey as Key | undefined;
      if (!exclusiveStartKey) return page(items, indexName, undefined);
      if (items.length >= limit || pages + 1 >= MAX_PAGES_PER_CALL) {
        return page(items, indexName, exclusiveStartKey);
      }
    }
  }

  async updateDeadLetter(next: DeadLetter, expectedVersion: number): Promise<DeadLetter> {
    const stored: DeadLetter = { ...next, version: expectedVersion + 1 };
    await putAtVersion(this.#db, this.#table, this.#item(stored), expectedVersion, {
      label: 'Dead letter',
      id: next.id,
      details: { id: next.id },
    });
    return stored;
  }

  async deleteDeadLetter(id: string): Promise<boolean> {
    const result = await this.#db.send(
      new DeleteCommand({ TableName: this.#table, Key: key(id), ReturnValues: 'ALL_OLD' }),
    );
    return result.Attributes !== undefined;
  }

  async noteMessageFailure(note: MessageFailureNote): Promise<void> {
    await this.#db.send(
      new PutCommand({
        TableName: this.#table,
        Item: withoutUndefined({
          [PK]: notePk(note.messageId),
          [SK]: NOTE_SK,
          ...note,
          [TableKeys.ttlAttribute]: epochSeconds(this.#clock.now()) + this.#noteRetention,
        }),
      }),
    );
  }

  async messageFailure(messageId: string): Promise<MessageFailureNote | undefined> {
    const result = await this.#db.send(
      new GetCommand({
        TableName: this.#table,
        Key: { [PK]: notePk(messageId), [SK]: NOTE_SK },
        ConsistentRead: true,
      }),
    );
    const item = result.Item;
    const expires = item?.[TableKeys.ttlAttribute];
    // dynalite keeps expired items (no TTL): treat them as gone.
    if (!item || (typeof expires === 'number' && expires < epochSeconds(this.#clock.now()))) return undefined;
    const { messageId: id, source, error, receiveCount, at } = item as Record<string, unknown>;
    if (typeof id !== 'string' || typeof source !== 'string' || typeof at !== 'string') return undefined;
    return {
      messageId: id,
      source,
      error: error as MessageFailureNote['error'],
      ...(typeof receiveCount === 'number' ? { receiveCount } : {}),
      at,
    };
  }

  #item(record: DeadLetter): Item {
    const sortKey = `${record.createdAt}#${record.id}`;
    const status = `DEADLETTERS#${record.status}`;
    const s = TableIndexes.state;
    const t = TableIndexes.type;
    const c = TableIndexes.created;
    return {
      ...withoutUndefined(record),
      [PK]: `DEADLETTER#${record.id}`,
      [SK]: DL_SK,
      [s.partitionKey]: status,
      [s.sortKey]: sortKey,
      ...(record.type !== undefined
        ? { [t.partitionKey]: `${status}#TYPE#${record.type}`, [t.sortKey]: sortKey }
        : {}),
      [c.partitionKey]: `${status}#KIND#${record.kind}`,
      [c.sortKey]: sortKey,
      ...(record.status === 'redriven'
        ? { [TableKeys.ttlAttribute]: epochSeconds(this.#clock.now()) + this.#redrivenRetention }
        : {}),
    };
  }
}

function fromItem(item: Item): DeadLetter {
  const fields: Item = { ...item };
  for (const attribute of storageAttributes) delete fields[attribute];
  return DeadLetterSchema.parse(fields);
}

function page(items: Item[], index: IndexName, lastKey: Key | undefined): Page<DeadLetter> {
  const records = items.map(fromItem);
  return lastKey ? { items: records, cursor: encodeCursor(index, lastKey) } : { items: records };
}

function keyAttributes(index: IndexName): string[] {
  return [PK, SK, TableIndexes[index].partitionKey, TableIndexes[index].sortKey];
}

function keyOf(item: Item, index: IndexName): Key {
  const out: Key = {};
  for (const name of keyAttributes(index)) out[name] = String(item[name]);
  return out;
}

function encodeCursor(index: IndexName, lastKey: Key): string {
  return Buffer.from(JSON.stringify({ d: index, k: lastKey }), 'utf8').toString('base64url');
}

/** A cursor must be ours, for the same index and partition: one from another listing is refused. */
function decodeCursor(raw: string | undefined, index: IndexName, partition: string): Key | undefined {
  if (raw === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalidCursor();
  const { d, k } = parsed as Record<string, unknown>;
  if (d !== index || k === null || typeof k !== 'object' || Array.isArray(k)) throw invalidCursor();
  const expected = keyAttributes(index);
  const entries = Object.entries(k);
  const valid =
    entries.length === expected.length &&
    entries.every(([name, v]) => expected.includes(name) && typeof v === 'string' && v.length > 0);
  if (!valid || (k as Key)[TableIndexes[index].partitionKey] !== partition) throw invalidCursor();
  return k as Key;
}

function invalidCursor(): ValidationError {
  return new ValidationError('InvalidCursor', 'The cursor is malformed or belongs to another listing');
}

function key(id: string): Item {
  return { [PK]: `DEADLETTER#${id}`, [SK]: DL_SK };
}

function notePk(messageId: string): string {
  return `MSGFAIL#${messageId}`;
}

function epochSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}
