import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { SqsQueue } from '../../src/aws/sqs-queue.js';

// Partial batch failures cannot be provoked on the emulator: these cases run on a mocked client.
const sqs = mockClient(SQSClient);
const queueUrl = 'https://sqs.eu-west-1.amazonaws.com/1/dispatch';

function queue() {
  return new SqsQueue({ client: new SQSClient({ region: 'eu-west-1' }), queueUrl });
}

function sentBodies(): unknown[][] {
  return sqs
    .commandCalls(SendMessageBatchCommand)
    .map((call) =>
      (call.args[0].input.Entries ?? []).map((e: SendMessageBatchRequestEntry) =>
        JSON.parse(e.MessageBody ?? ''),
      ),
    );
}

beforeEach(() => {
  sqs.reset();
});

describe('SqsQueue.sendMany', () => {
  it('retries only the entries the service failed', async () => {
    sqs
      .on(SendMessageBatchCommand)
      .resolvesOnce({
        Successful: [{ Id: '0', MessageId: 'm0', MD5OfMessageBody: '' }],
        Failed: [{ Id: '1', SenderFault: false, Code: 'InternalError' }],
      })
      .resolves({ Successful: [{ Id: '1', MessageId: 'm1', MD5OfMessageBody: '' }], Failed: [] });

    await queue().sendMany([{ n: 0 }, { n: 1 }]);

    expect(sentBodies()).toEqual([[{ n: 0 }, { n: 1 }], [{ n: 1 }]]);
  });

  it('throws after a few attempts when entries keep failing', async () => {
    sqs
      .on(SendMessageBatchCommand)
      .resolves({ Successful: [], Failed: [{ Id: '0', SenderFault: false, Code: 'InternalError' }] });

    await expect(queue().sendMany([{ n: 0 }])).rejects.toMatchObject({ code: 'SendMessageBatchFailed' });
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(3);
  });

  it('does not retry entries SQS rejected as the sender’s fault', async () => {
    sqs
      .on(SendMessageBatchCommand)
      .resolves({ Successful: [], Failed: [{ Id: '0', SenderFault: true, Code: 'InvalidParameterValue' }] });

    await expect(queue().sendMany([{ n: 0 }])).rejects.toMatchObject({ code: 'SendMessageRejected' });
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(1);
  });

  it('splits batches by count and by payload size', async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const big = 'x'.repeat(100 * 1024);

    await queue().sendMany([...Array.from({ length: 12 }, (_, n) => ({ n })), { big }, { big }, { big }]);

    expect(sentBodies().map((batch) => batch.length)).toEqual([10, 4, 1]);
  });
});
