import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { TableIndexes, TableKeys } from '../aws/table-schema.js';

/** Names of the local resources (the CDK stack names its own). */
export interface LocalResourceNames {
  readonly table: string;
  readonly bucket: string;
  readonly intakeQueue: string;
  readonly dispatchQueue: string;
  readonly eventsQueue: string;
}

/** What `npm start` creates in the emulators. Each queue's dead-letter queue is `<name>-dlq`. */
export const defaultLocalResourceNames: LocalResourceNames = {
  table: 'offpeak',
  bucket: 'offpeak-local',
  intakeQueue: 'offpeak-intake',
  dispatchQueue: 'offpeak-dispatch',
  eventsQueue: 'offpeak-events',
};

export interface ResourceClients {
  readonly dynamodb: DynamoDBClient;
  readonly sqs: SQSClient;
  readonly s3: S3Client;
}

export interface EnsureResourcesOptions {
  /** Receives before a message moves to its queue's DLQ. @default 5 */
  readonly maxReceiveCount?: number;
  /** Visibility timeout of the three work queues, in seconds. @default 60 */
  readonly visibilityTimeoutSeconds?: number;
  /** How long DLQs keep messages, in seconds. @default 1_209_600 (14 days, the SQS maximum) */
  readonly dlqRetentionSeconds?: number;
}

export interface QueueResource {
  readonly name: string;
  readonly url: string;
  readonly arn: string;
  readonly dlqUrl: string;
  readonly dlqArn: string;
}

export interface EnsuredResources {
  readonly tableName: string;
  readonly bucketName: string;
  readonly queues: {
    readonly intake: QueueResource;
    readonly dispatch: QueueResource;
    readonly events: QueueResource;
  };
}

/**
 * Creates, idempotently, what the CDK stack declares: the single table with its four GSIs, the intake, dispatch
 * and events queues each with a DLQ and a redrive policy, and the bucket.
 *
 * @throws Error when a table of that name exists with another key schema (delete the local data directory).
 * @example
 * const resources = await ensureResources(clients, defaultLocalResourceNames);
 * env.OFFPEAK_DISPATCH_QUEUE_URL = resources.queues.dispatch.url;
 */
export async function ensureResources(
  clients: ResourceClients,
  names: LocalResourceNames = defaultLocalResourceNames,
  options: EnsureResourcesOptions = {},
): Promise<EnsuredResources> {
  const queueOptions = {
    maxReceiveCount: options.maxReceiveCount ?? 5,
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 60,
    dlqRetentionSeconds: options.dlqRetentionSeconds ?? 1_209_600,
  };
  const [, , intake, dispatch, events] = await Promise.all([
    ensureTable(clients.dynamodb, names.table),
    ensureBucket(clients.s3, names.bucket),
    ensureQueueWithDlq(clients.sqs, names.intakeQueue, queueOptions),
    ensureQueueWithDlq(clients.sqs, names.dispatchQueue, queueOptions),
    ensureQueueWithDlq(clients.sqs, names.eventsQueue, queueOptions),
  ]);
  return { tableName: names.table, bucketName: names.bucket, queues: { intake, dispatch, events } };
}

/** The table as the CDK stack declares it (see table-schema.ts). */
export function tableDefinition(tableName: string) {
  const indexes = Object.values(TableIndexes);
  const attributeNames = [
    TableKeys.partitionKey,
    TableKeys.sortKey,
    ...indexes.flatMap((index) => [index.partitionKey, index.sortKey]),
  ];
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: attributeNames.map((name) => ({
      AttributeName: name,
      AttributeType: 'S' as const,
    })),
    KeySchema: [
      { AttributeName: TableKeys.partitionKey, KeyType: 'HASH' as const },
      { AttributeName: TableKeys.sortKey, KeyType: 'RANGE' as const },
    ],
    GlobalSecondaryIndexes: indexes.map((index) => ({
      IndexName: index.name,
      KeySchema: [
        { AttributeName: index.partitionKey, KeyType: 'HASH' as const },
        { AttributeName: index.sortKey, KeyType: 'RANGE' as const },
      ],
      Projection: { ProjectionType: 'ALL' as const },
    })),
  };
}

/** Creates the table unless it exists, then waits until it and its indexes are ACTIVE. */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new CreateTableCommand(tableDefinition(tableName)));
  } catch (error) {
    if (!(error instanceof Error && error.name === 'ResourceInUseException')) throw error;
  }
  const table = await waitForActiveTable(client, tableName);
  const problems = schemaProblems(table);
  if (problems.length > 0) {
    throw new Error(
      `Table ${tableName} exists with another schema (${problems.join('; ')}). ` +
        'Delete the local data directory (.offpeak/) to recreate it.',
    );
  }
}

async function waitForActiveTable(client: DynamoDBClient, tableName: string): Promise<TableDescription> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { Table: table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const indexesActive = (table?.GlobalSecondaryIndexes ?? []).every(
      (index) => index.IndexStatus === 'ACTIVE',
    );
    if (table?.TableStatus === 'ACTIVE' && indexesActive) return table;
    if (Date.now() > deadline) throw new Error(`Table ${tableName} did not become ACTIVE within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function schemaProblems(table: TableDescription): string[] {
  const problems: string[] = [];
  const keyOf = (schema: { AttributeName?: string; KeyType?: string }[] | undefined) =>
    (schema ?? []).map((k) => `${k.AttributeName}:${k.KeyType}`).join(',');
  const expected = tableDefinition(table.TableName ?? '');
  if (keyOf(table.KeySchema) !== keyOf(expected.KeySchema)) problems.push('key schema differs');
  for (const index of expected.GlobalSecondaryIndexes) {
    const actual = table.GlobalSecondaryIndexes?.find((i) => i.IndexName === index.IndexName);
    if (!actual) problems.push(`index ${index.IndexName} is missing`);
    else if (keyOf(actual.KeySchema) !== keyOf(index.KeySchema))
      problems.push(`index ${index.IndexName} differs`);
    else if (actual.Projection?.ProjectionType !== 'ALL')
      problems.push(`index ${index.IndexName} projects less`);
  }
  return problems;
}

async function ensureBucket(client: S3Client, bucketName: string): Promise<void> {
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucketName }));
  } catch (error) {
    if (!(error instanceof Error && error.name === 'BucketAlreadyOwnedByYou')) throw error;
  }
}

/** Creates (or converges) a queue and its `<name>-dlq` with a redrive policy. */
export async function ensureQueueWithDlq(
  client: SQSClient,
  name: string,
  options: { maxReceiveCount: number; visibilityTimeoutSeconds: number; dlqRetentionSeconds: number },
): Promise<QueueResource> {
  const dlq = await ensureQueue(client, `${name}-dlq`, {
    MessageRetentionPeriod: String(options.dlqRetentionSeconds),
  });
  const queue = await ensureQueue(client, name, {
    VisibilityTimeout: String(options.visibilityTimeoutSeconds),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: options.maxReceiveCount }),
  });
  return { name, url: queue.url, arn: queue.arn, dlqUrl: dlq.url, dlqArn: dlq.arn };
}

/**
 * CreateQueue without attributes is idempotent whatever the queue's current attributes; setting them afterwards
 * converges an existing queue to the requested configuration instead of failing with QueueNameExists.
 */
async function ensureQueue(
  client: SQSClient,
  name: string,
  attributes: Record<string, string>,
): Promise<{ url: string; arn: string }> {
  const { QueueUrl: url } = await client.send(new CreateQueueCommand({ QueueName: name }));
  if (!url) throw new Error(`CreateQueue returned no URL for ${name}`);
  await client.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: attributes }));
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  const arn = Attributes?.QueueArn;
  if (!arn) throw new Error(`GetQueueAttributes returned no ARN for ${name}`);
  return { url, arn };
}
