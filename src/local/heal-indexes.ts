import {
  type AttributeValue,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { TableIndexes, TableKeys } from '../aws/table-schema.js';

type Item = Record<string, AttributeValue>;

/** What {@link healIndexes} repaired. */
export interface IndexHealing {
  /** Items re-written so that their index entries exist. */
  readonly items: number;
  /** Index entries that disagreed with their item (a write cut short after its index writes), removed. */
  readonly orphans: number;
}

/**
 * Repairs the local table's indexes after an unclean shutdown (a crash, kill -9).
 *
 * dynalite writes an item's index entries (deletes, then puts) and the item itself as separate LevelDB writes, so a
 * process killed between them leaves an index without the item's entry (a QUEUED job the dispatcher never sees), or
 * with an entry of a version that was never written (a ghost). DynamoDB itself never does this; the local service
 * promises to survive a crash all the same, so after one it runs this before anything else: every index entry that
 * disagrees with its item is removed, and every item is written again (unchanged), which writes its entries.
 */
export async function healIndexes(client: DynamoDBClient, tableName: string): Promise<IndexHealing> {
  const pk = TableKeys.partitionKey;
  const sk = TableKeys.sortKey;
  let orphans = 0;
  const key = (item: Item): Item => ({ [pk]: item[pk] as AttributeValue, [sk]: item[sk] as AttributeValue });
  for (const index of Object.values(TableIndexes)) {
    for await (const entry of scan(client, tableName, index.name)) {
      const { Item: item } = await client.send(
        new GetItemCommand({ TableName: tableName, Key: key(entry), ConsistentRead: true }),
      );
      if (item && sameIndexedItem(item, entry)) continue;
      orphans++;
      // dynalite deletes the index entries of the item it replaces: stand the orphan in, then put the truth back.
      await client.send(new PutItemCommand({ TableName: tableName, Item: entry }));
      if (item) await client.send(new PutItemCommand({ TableName: tableName, Item: item }));
      else await client.send(new DeleteItemCommand({ TableName: tableName, Key: key(entry) }));
    }
  }
  let items = 0;
  for await (const item of scan(client, tableName)) {
    const indexed = Object.values(TableIndexes).some((index) => item[index.partitionKey] !== undefined);
    if (!indexed) continue;
    await client.send(new PutItemCommand({ TableName: tableName, Item: item }));
    items++;
  }
  return { items, orphans };
}

async function* scan(client: DynamoDBClient, tableName: string, indexName?: string): AsyncGenerator<Item> {
  let startKey: Item | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: tableName,
        ...(indexName ? { IndexName: indexName } : {}),
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    yield* page.Items ?? [];
    startKey = page.LastEvaluatedKey;
  } while (startKey);
}

/** An index entry (projection ALL) agrees with its item when it is a copy of it. */
function sameIndexedItem(item: Item, entry: Item): boolean {
  return JSON.stringify(sorted(item)) === JSON.stringify(sorted(entry));
}

function sorted(item: Item): [string, AttributeValue][] {
  return Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
