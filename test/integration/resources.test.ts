import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { TableIndexes } from '../../src/aws/table-schema.js';
import { defaultLocalResourceNames, ensureResources, ensureTable } from '../../src/local/resources.js';
import { useEmulators } from '../support/emulators.js';

const harness = useEmulators();

describe('ensureResources', () => {
  it('creates the table, queues with DLQs and bucket, and is idempotent', async () => {
    const { clients } = harness();

    const first = await ensureResources(clients, defaultLocalResourceNames, { maxReceiveCount: 3 });
    const second = await ensureResources(clients, defaultLocalResourceNames, { maxReceiveCount: 3 });

    expect(second).toEqual(first);
    const { Table } = await clients.dynamodb.send(new DescribeTableCommand({ TableName: first.tableName }));
    expect(Table?.TableStatus).toBe('ACTIVE');
    expect(Table?.BillingModeSummary?.BillingMode ?? 'PAY_PER_REQUEST').toBe('PAY_PER_REQUEST');
    expect(Table?.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    const indexes = (Table?.GlobalSecondaryIndexes ?? []).map((i) => ({
      name: i.IndexName,
      keys: i.KeySchema?.map((k) => k.AttributeName),
      projection: i.Projection?.ProjectionType,
    }));
    expect(indexes.sort((a, b) => String(a.name).localeCompare(String(b.name)))).toEqual(
      Object.values(TableIndexes)
        .map((i) => ({ name: i.name, keys: [i.partitionKey, i.sortKey], projection: 'ALL' }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    );
    for (const queue of Object.values(first.queues)) {
      const { Attributes } = await clients.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: queue.url, AttributeNames: ['All'] }),
      );
      expect(JSON.parse(Attributes?.RedrivePolicy ?? '{}')).toEqual({
        deadLetterTargetArn: queue.dlqArn,
        maxReceiveCount: 3,
      });
      expect(Attributes?.VisibilityTimeout).toBe('60');
      expect(queue.dlqArn).toMatch(new RegExp(`:${queue.name}-dlq$`));
    }
    await expect(clients.s3.send(new HeadBucketCommand({ Bucket: first.bucketName }))).resolves.toBeDefined();
  });

  it('converges an existing queue to new settings', async () => {
    const { clients } = harness();
    await ensureResources(clients, defaultLocalResourceNames);

    const updated = await ensureResources(clients, defaultLocalResourceNames, {
      maxReceiveCount: 7,
      visibilityTimeoutSeconds: 5,
    });

    const { Attributes } = await clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: updated.queues.dispatch.url, AttributeNames: ['All'] }),
    );
    expect(Attributes?.VisibilityTimeout).toBe('5');
    expect(JSON.parse(Attributes?.RedrivePolicy ?? '{}').maxReceiveCount).toBe(7);
  });

  it('refuses a table of the same name with another schema', async () => {
    const { clients } = harness();
    const { CreateTableCommand } = await import('@aws-sdk/client-dynamodb');
    await clients.dynamodb.send(
      new CreateTableCommand({
        TableName: 'legacy',
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      }),
    );

    await expect(ensureTable(clients.dynamodb, 'legacy')).rejects.toThrow(
      /another schema.*key schema differs/,
    );
  });
});
