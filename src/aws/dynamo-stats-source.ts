import { type DynamoDBDocumentClient, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import type { JobState } from '../core/job-state.js';
import type { CountWithOldest, StatsSource } from '../ports/stats-source.js';
import { keyPrefix } from './job-item.js';
import { TableIndexes } from './table-schema.js';

export interface DynamoStatsSourceOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
}

/**
 * Counts from the table's indexes (no scans): `Select: COUNT` queries on one state partition of the state index
 * (optionally from a time on, via its `<stateChangedAt>#<id>` sort key), and on one queue partition of the sparse
 * queue index. DynamoDB bills a COUNT like reading the items it counts, so each call costs in proportion to the
 * jobs in flight (or finished within the window), never to the table's size.
 */
export class DynamoStatsSource implements StatsSource {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(options: DynamoStatsSourceOptions) {
    this.#db = options.client;
    this.#table = options.tableName;
  }

  async countInState(state: JobState, since?: Date): Promise<CountWithOldest> {
    const index = TableIndexes.state;
    const key = {
      IndexName: index.name,
      KeyConditionExpression: since ? '#pk = :pk AND #sk >= :since' : '#pk = :pk',
      ExpressionAttributeNames: { '#pk': index.partitionKey, ...(since ? { '#sk': index.sortKey } : {}) },
      ExpressionAttributeValues: {
        ':pk': `${keyPrefix.state}${state}`,
        ...(since ? { ':since': since.toISOString() } : {}),
      },
    } satisfies Partial<QueryCommandInput>;
    const [count, first] = await Promise.all([
      this.#count(key),
      // The index sorts by the time the job entered the state: the first item is the oldest.
      this.#db.send(
        new QueryCommand({
          ...key,
          TableName: this.#table,
          Limit: 1,
          ScanIndexForward: true,
          ProjectionExpression: 'stateChangedAt',
        }),
      ),
    ]);
    const oldest = first.Items?.[0]?.stateChangedAt;
    return { count, ...(typeof oldest === 'string' ? { oldest } : {}) };
  }

  async queueBacklog(queue: string): Promise<CountWithOldest> {
    const index = TableIndexes.queue;
    // The queue index sorts by dispatch order (priority, then id), not by age: one pass finds both numbers.
    let count = 0;
    let oldest: string | undefined;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          IndexName: index.name,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': index.partitionKey, '#at': 'stateChangedAt' },
          ExpressionAttributeValues: { ':pk': `${keyPrefix.queue}${queue}` },
          ProjectionExpression: '#at',
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        count++;
        const at = item.stateChangedAt;
        if (typeof at === 'string' && (oldest === undefined || at < oldest)) oldest = at;
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return { count, ...(oldest !== undefined ? { oldest } : {}) };
  }

  async #count(key: Omit<QueryCommandInput, 'TableName'>): Promise<number> {
    let count = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.#db.send(
        new QueryCommand({ ...key, TableName: this.#table, Select: 'COUNT', ExclusiveStartKey: startKey }),
      );
      count += page.Count ?? 0;
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return count;
  }
}
