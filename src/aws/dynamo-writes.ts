import { BatchGetCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ConcurrentUpdateError, RetryableError } from '../core/errors.js';
import { TableKeys } from './table-schema.js';

/** A DynamoDB item as the document client reads and writes it. */
type Item = Record<string, unknown>;

/** BatchGetItem takes at most 100 keys a call. */
const BATCH_GET_MAX = 100;
/** Rounds of retrying unprocessed keys (full-jitter backoff) before giving up with a retryable error. */
const UNPROCESSED_RETRIES = 8;

/** True for the error of a conditional write whose condition did not hold. */
export function isConditionFailure(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

/**
 * Writes `item` only if no item has its key (the single-item conditional create every store uses).
 * @returns false when one existed (nothing was written)
 */
export async function putIfAbsent(
  db: DynamoDBDocumentClient,
  tableName: string,
  item: Item,
): Promise<boolean> {
  try {
    await db.send(
      new PutCommand({
        TableName: tableName,
        Item: item,
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': TableKeys.partitionKey },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

/**
 * Replaces an item only if it is still at `expectedVersion` (the optimistic write every store's update uses: a whole
 * item, so attributes the new version no longer has disappear with it).
 * @throws ConcurrentUpdateError `ConcurrentUpdate` naming `what` when another write got there first (or no item)
 */
export async function putAtVersion(
  db: DynamoDBDocumentClient,
  tableName: string,
  item: Item,
  expectedVersion: number,
  what: { readonly label: string; readonly id: string; readonly details?: Readonly<Record<string, unknown>> },
): Promise<void> {
  try {
    await db.send(
      new PutCommand({
        TableName: tableName,
        Item: item,
        ConditionExpression: '#version = :expected',
        ExpressionAttributeNames: { '#version': 'version' },
        ExpressionAttributeValues: { ':expected': expectedVersion },
      }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    throw new ConcurrentUpdateError(
      'ConcurrentUpdate',
      `${what.label} ${what.id} is no longer at version ${expectedVersion} (or does not exist)`,
      { cause: error, ...(what.details ? { details: { ...what.details, expectedVersion } } : {}) },
    );
  }
}

/**
 * Reads items by key, strongly consistent, 100 keys a call, retrying unprocessed keys with full-jitter backoff.
 * Missing items are absent from the result (in no particular order).
 * @throws RetryableError `BatchGetIncomplete` when keys stay unprocessed (throttling)
 */
export async function batchGetAll(
  db: DynamoDBDocumentClient,
  tableName: string,
  allKeys: readonly Item[],
  what: string,
): Promise<Item[]> {
  const items: Item[] = [];
  for (let start = 0; start < allKeys.length; start += BATCH_GET_MAX) {
    let keys: Item[] = allKeys.slice(start, start + BATCH_GET_MAX);
    for (let attempt = 0; keys.length > 0; attempt++) {
      if (attempt > UNPROCESSED_RETRIES) {
        throw new RetryableError(
          'BatchGetIncomplete',
          `${keys.length} ${what} stayed unprocessed by BatchGetItem`,
        );
      }
      if (attempt > 0) await sleep(Math.floor(Math.random() * Math.min(2000, 50 * 2 ** attempt)));
      const result = await db.send(
        new BatchGetCommand({ RequestItems: { [tableName]: { Keys: keys, ConsistentRead: true } } }),
      );
      items.push(...(result.Responses?.[tableName] ?? []));
      keys = result.UnprocessedKeys?.[tableName]?.Keys ?? [];
    }
  }
  return items;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
