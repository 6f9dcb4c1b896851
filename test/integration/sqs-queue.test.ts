import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { SqsQueue } from '../../src/aws/sqs-queue.js';
import { type EnsuredResources, ensureResources } from '../../src/local/resources.js';
import { uniqueName, useEmulators } from '../support/emulators.js';

const harness = useEmulators();

async function receive(sqs: SQSClient, queueUrl: string, max = 10, waitSeconds = 0): Promise<Message[]> {
  const { Messages } = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: max, WaitTimeSeconds: waitSeconds }),
  );
  return Messages ?? [];
}

/** Receives (and deletes) until `count` messages arrived or `timeoutMs` passed. */
async function drain(sqs: SQSClient, queueUrl: string, count: number, timeoutMs = 5_000): Promise<Message[]> {
  const all: Message[] = [];
  const deadline = Date.now() + timeoutMs;
  while (all.length < count && Date.now() < deadline) {
    const messages = await receive(sqs, queueUrl, 10, 1);
    all.push(...messages);
    if (messages.length > 0) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
    }
  }
  return all;
}

describe('SqsQueue on fauxqs', () => {
  let resources: EnsuredResources;

  beforeAll(async () => {
    const suffix = uniqueName('q');
    resources = await ensureResources(
      harness().clients,
      {
        table: `table-${suffix}`,
        bucket: `bucket-${suffix}`,
        intakeQueue: `intake-${suffix}`,
        dispatchQueue: `dispatch-${suffix}`,
        eventsQueue: `events-${suffix}`,
      },
      { maxReceiveCount: 2, visibilityTimeoutSeconds: 1 },
    );
  });

  it('sends a JSON body', async () => {
    const { sqs } = harness().clients;
    const queue = new SqsQueue({ client: sqs, queueUrl: resources.queues.intake.url });

    await queue.send({ type: 'hello', params: { name: 'ada' } });

    const [message] = await drain(sqs, resources.queues.intake.url, 1);
    expect(JSON.parse(message?.Body ?? 'null')).toEqual({ type: 'hello', params: { name: 'ada' } });
  });

  it('delays a message', async () => {
    const { sqs } = harness().clients;
    const queue = new SqsQueue({ client: sqs, queueUrl: resources.queues.dispatch.url });
    const sentAt = Date.now();

    await queue.send({ kind: 'retry-release', jobId: 'j1' }, { delaySeconds: 1 });

    expect(await receive(sqs, resources.queues.dispatch.url)).toEqual([]);
    const [message] = await drain(sqs, resources.queues.dispatch.url, 1);
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(900);
    expect(JSON.parse(message?.Body ?? 'null')).toEqual({ kind: 'retry-release', jobId: 'j1' });
  });

  it('sends many messages in batches', async () => {
    const { sqs } = harness().clients;
    const queue = new SqsQueue({ client: sqs, queueUrl: resources.queues.events.url });
    const bodies = Array.from({ length: 25 }, (_, i) => ({ n: i }));

    await queue.sendMany(bodies);

    const received = await drain(sqs, resources.queues.events.url, 25);
    expect(received.map((m) => JSON.parse(m.Body ?? 'null').n).sort((a, b) => a - b)).toEqual(
      bodies.map((b) => b.n),
    );
  });

  it('moves a message received too often to the dead-letter queue', async () => {
    const { sqs } = harness().clients;
    const { url, dlqUrl } = resources.queues.intake;
    await new SqsQueue({ client: sqs, queueUrl: url }).send({ poison: true });

    // maxReceiveCount is 2: two receives without a delete, then the third moves it to the DLQ.
    for (let receiveCount = 1; receiveCount <= 2; receiveCount++) {
      const messages = await receive(sqs, url, 10, 2);
      expect(messages).toHaveLength(1);
    }
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await receive(sqs, url)).toEqual([]);

    const dead = await drain(sqs, dlqUrl, 1);
    expect(dead.map((m) => JSON.parse(m.Body ?? 'null'))).toEqual([{ poison: true }]);
  });

  it('refuses bodies that are not JSON', async () => {
    const queue = new SqsQueue({ client: harness().clients.sqs, queueUrl: resources.queues.events.url });
    await expect(queue.send(undefined)).rejects.toMatchObject({ code: 'InvalidMessage' });
    await expect(queue.send({}, { delaySeconds: -1 })).rejects.toMatchObject({ code: 'InvalidDelay' });
  });
});
