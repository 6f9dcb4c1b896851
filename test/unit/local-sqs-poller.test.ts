import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulators, startEmulators } from '../../src/local/emulators.js';
import { SqsPoller } from '../../src/local/sqs-poller.js';
import { fixturesDir } from './support/fixtures.js';

let emulators: Emulators;
let sqs: SQSClient;
let queueCount = 0;

beforeAll(async () => {
  emulators = await startEmulators();
  sqs = new SQSClient({
    endpoint: emulators.endpoints.sqs,
    region: emulators.region,
    credentials: emulators.credentials,
  });
});

afterAll(async () => {
  sqs?.destroy();
  await emulators?.stop();
});

/** A queue with a DLQ after `maxReceiveCount` receives and a short visibility timeout. */
async function queueWithDlq(maxReceiveCount = 2, visibilityTimeout = 1) {
  const name = `poller-test-${++queueCount}`;
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }));
  const dlqArn = (
    await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))
  ).Attributes?.QueueArn;
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: {
        VisibilityTimeout: String(visibilityTimeout),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount }),
      },
    }),
  );
  const arn = (
    await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.QueueUrl, AttributeNames: ['QueueArn'] }))
  ).Attributes?.QueueArn;
  return { url: queue.QueueUrl!, arn: arn!, dlqUrl: dlq.QueueUrl! };
}

async function send(queueUrl: string, body: string, attributes = {}) {
  return sqs.send(
    new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body, MessageAttributes: attributes }),
  );
}

async function visibleCount(queueUrl: string): Promise<number> {
  const result = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(result.Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(result.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}

function recorder(respond: (event: SQSEvent) => SQSBatchResponse | Promise<SQSBatchResponse>) {
  const events: SQSEvent[] = [];
  const handler = async (event: SQSEvent) => {
    events.push(structuredClone(event));
    return respond(event);
  };
  return { events, handler };
}

describe('SqsPoller', () => {
  it('invokes the handler with a faithful Lambda SQS event', async () => {
    // Prepare
    const queue = await queueWithDlq();
    const { events, handler } = recorder(() => ({ batchItemFailures: [] }));
    const poller = new SqsPoller({ client: sqs, queueUrl: queue.url, handler, functionName: 'test' });
    await send(queue.url, '{"hello":"world"}', { testAttr: { DataType: 'Number', StringValue: '100' } });

    // Act
    const outcome = await poller.pollOnce(1);

    // Assess
    expect(outcome).toEqual({ received: 1, deleted: 1, failed: 0 });
    const real = JSON.parse(
      await readFile(join(fixturesDir, 'sqs-lambda-event-with-attributes.json'), 'utf8'),
    ) as SQSEvent;
    const record = events[0]!.Records[0]!;
    const realRecord = real.Records[0]!;
    expect(Object.keys(record)).toEqual(expect.arrayContaining(Object.keys(realRecord)));
    expect(Object.keys(record.attributes)).toEqual(
      expect.arrayContaining(Object.keys(realRecord.attributes)),
    );
    expect(record).toMatchObject({
      body: '{"hello":"world"}',
      md5OfBody: createHash('md5').update('{"hello":"world"}').digest('hex'),
      eventSource: 'aws:sqs',
      eventSourceARN: queue.arn,
      awsRegion: 'us-east-1',
      attributes: { ApproximateReceiveCount: '1' },
      messageAttributes: { testAttr: { stringValue: '100', dataType: 'Number' } },
    });
    expect(Number(record.attributes.SentTimestamp)).toBeGreaterThan(0);
    expect(await visibleCount(queue.url)).toBe(0);
  });

  it('deletes only the records not listed in batchItemFailures; failed ones come back, then reach the DLQ', async () => {
    // Prepare
    const queue = await queueWithDlq(2, 1);
    const { events, handler } = recorder((event) => ({
      batchItemFailures: event.Records.filter((r) => r.body === 'bad').map((r) => ({
        itemIdentifier: r.messageId,
      })),
    }));
    const poller = new SqsPoller({
      client: sqs,
      queueUrl: queue.url,
      handler,
      functionName: 'test',
      waitTimeSeconds: 1,
    });
    for (const body of ['good-1', 'bad', 'good-2']) await send(queue.url, body);

    // Act
    poller.start();
    await expect
      .poll(
        async () =>
          (
            await sqs.send(
              new GetQueueAttributesCommand({
                QueueUrl: queue.dlqUrl,
                AttributeNames: ['ApproximateNumberOfMessages'],
              }),
            )
          ).Attributes?.ApproximateNumberOfMessages,
        { timeout: 10_000, interval: 200 },
      )
      .toBe('1');
    await poller.stop();

    // Assess
    const bodies = events.flatMap((e) =>
      e.Records.map((r) => `${r.body}#${r.attributes.ApproximateReceiveCount}`),
    );
    expect(bodies.filter((b) => b.startsWith('good'))).toEqual(
      expect.arrayContaining(['good-1#1', 'good-2#1']),
    );
    expect(bodies.filter((b) => b.startsWith('good'))).toHaveLength(2);
    expect(bodies.filter((b) => b.startsWith('bad'))).toEqual(['bad#1', 'bad#2']);
    expect(await visibleCount(queue.url)).toBe(0);
    const dead = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queue.dlqUrl, MaxNumberOfMessages: 10 }),
    );
    expect(dead.Messages?.map((m) => m.Body)).toEqual(['bad']);
  });

  it('fails the whole batch when the handler throws', async () => {
    const queue = await queueWithDlq(5, 30);
    const poller = new SqsPoller({
      client: sqs,
      queueUrl: queue.url,
      functionName: 'test',
      handler: async () => {
        throw new Error('boom');
      },
    });
    await send(queue.url, 'a');
    await send(queue.url, 'b');
    let outcome = await poller.pollOnce(1);
    if (outcome.received < 2) {
      const more = await poller.pollOnce(1);
      outcome = {
        received: outcome.received + more.received,
        deleted: 0,
        failed: outcome.failed + more.failed,
      };
    }
    expect(outcome).toMatchObject({ received: 2, deleted: 0, failed: 2 });
    expect(await visibleCount(queue.url)).toBe(2);
  });

  it('fails the whole batch when a reported identifier is not in the batch (as Lambda does)', async () => {
    const queue = await queueWithDlq(5, 30);
    const { handler } = recorder(() => ({ batchItemFailures: [{ itemIdentifier: 'not-a-message-id' }] }));
    const poller = new SqsPoller({ client: sqs, queueUrl: queue.url, functionName: 'test', handler });
    await send(queue.url, 'a');
    expect(await poller.pollOnce(1)).toEqual({ received: 1, deleted: 0, failed: 1 });
  });

  it('treats an empty or missing response as success and passes a Lambda context', async () => {
    const queue = await queueWithDlq();
    let seen: { functionName: string; remaining: number } | undefined;
    const poller = new SqsPoller({
      client: sqs,
      queueUrl: queue.url,
      functionName: 'offpeak-test',
      handler: async (_event, context) => {
        seen = { functionName: context.functionName, remaining: context.getRemainingTimeInMillis() };
      },
    });
    await send(queue.url, 'a');
    expect(await poller.pollOnce(1)).toEqual({ received: 1, deleted: 1, failed: 0 });
    expect(seen?.functionName).toBe('offpeak-test');
    expect(seen?.remaining).toBeGreaterThan(50_000);
  });

  it('gathers a backlog into one invocation when batchSize is above 10 (as the batching window does)', async () => {
    const queue = await queueWithDlq(5, 30);
    for (let i = 0; i < 25; i++) await send(queue.url, `m${i}`);
    const { events, handler } = recorder(() => ({ batchItemFailures: [] }));
    const poller = new SqsPoller({
      client: sqs,
      queueUrl: queue.url,
      functionName: 'test',
      handler,
      batchSize: 20,
    });
    poller.start();
    await expect.poll(() => events.reduce((n, e) => n + e.Records.length, 0)).toBe(25);
    await poller.stop();
    expect(events[0]?.Records.length).toBe(20);
    expect(events.every((e) => e.Records.length <= 20)).toBe(true);
  });

  it('stops promptly during a long poll and lets an in-flight batch finish', async () => {
    // Prepare
    const queue = await queueWithDlq(5, 30);
    let finished = false;
    const poller = new SqsPoller({
      client: sqs,
      queueUrl: queue.url,
      functionName: 'test',
      handler: async () => {
        await new Promise((r) => setTimeout(r, 300));
        finished = true;
        return { batchItemFailures: [] };
      },
    });
    poller.start();
    await send(queue.url, 'slow');
    await expect.poll(() => visibleCount(queue.url).then((n) => n === 1)).toBe(true);
    await new Promise((r) => setTimeout(r, 100)); // the handler is running now

    // Act
    const started = Date.now();
    await poller.stop();

    // Assess
    expect(finished).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await visibleCount(queue.url)).toBe(0);

    const idle = new SqsPoller({
      client: sqs,
      queueUrl: queue.url,
      functionName: 'idle',
      handler: async () => {},
    });
    idle.start();
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    await idle.stop();
    expect(Date.now() - t0).toBeLessThan(1_000);
  });
});
