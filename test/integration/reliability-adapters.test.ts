import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ObjectStoreRetryMarkers } from '../../src/aws/object-store-retry-markers.js';
import { powertoolsMetrics } from '../../src/aws/powertools-metrics.js';
import { S3ObjectStore } from '../../src/aws/s3-object-store.js';
import { SqsQueue } from '../../src/aws/sqs-queue.js';
import { uniqueName, useEmulators } from '../support/emulators.js';

const harness = useEmulators();

describe('ObjectStoreRetryMarkers on fauxqs S3', () => {
  let store: S3ObjectStore;
  let bucket: string;
  beforeAll(async () => {
    bucket = uniqueName('bucket');
    await harness().clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    store = new S3ObjectStore({ client: harness().clients.s3, bucket });
  });

  it('tells the job an S3 URI per attempt and reads back what the job put there', async () => {
    const markers = new ObjectStoreRetryMarkers(store);
    expect(markers.location('01JOB', 2)).toBe(`s3://${bucket}/outputs/01JOB/_offpeak/retry-after-2`);
    expect(await markers.read('01JOB', 2)).toBeUndefined();
    // What a container does: aws s3 cp - "$OFFPEAK_RETRY_MARKER" (or PutObject with an SDK).
    await store.put('outputs/01JOB/_offpeak/retry-after-2', '{"retryAfterSeconds": 300, "reason": "429"}');
    expect(await markers.read('01JOB', 2)).toEqual({ retryAfterSeconds: 300, reason: '429' });
    await store.put('outputs/01JOB/_offpeak/retry-after-3', 'garbage');
    expect(await markers.read('01JOB', 3)).toBeUndefined();
  });
});

describe('SqsQueue message attributes on fauxqs', () => {
  it('sends string attributes with the body', async () => {
    const { clients } = harness();
    const { QueueUrl } = await clients.sqs.send(new CreateQueueCommand({ QueueName: uniqueName('attrs') }));
    await new SqsQueue({ client: clients.sqs, queueUrl: QueueUrl! }).send(
      { type: 'hello' },
      { attributes: { 'offpeak-redrive-of': 'm-origin' } },
    );
    const { Messages } = await clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MessageAttributeNames: ['All'], WaitTimeSeconds: 1 }),
    );
    expect(Messages?.[0]?.Body).toBe('{"type":"hello"}');
    expect(Messages?.[0]?.MessageAttributes?.['offpeak-redrive-of']).toMatchObject({
      DataType: 'String',
      StringValue: 'm-origin',
    });
  });
});

describe('powertoolsMetrics (the metrics port on Lambda)', () => {
  const written: string[] = [];
  beforeEach(() => {
    written.length = 0;
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
  });
  afterEach(() => vi.restoreAllMocks());

  it('writes one EMF blob per data point with its own dimension and the service dimension, at once', () => {
    const port = powertoolsMetrics({ namespace: 'Offpeak' });
    port.record([
      { name: 'ReconcilerRepairs', unit: 'Count', value: 1, dimensions: { Repair: 'requeued-stuck-submit' } },
      { name: 'DeadLetters', unit: 'Count', value: 2, dimensions: { Kind: 'job' } },
    ]);
    const blobs = written
      .flatMap((w) => w.split('\n'))
      .filter((line) => line.includes('_aws'))
      .map((l) => JSON.parse(l));
    expect(blobs).toHaveLength(2);
    expect(blobs[0]).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Namespace: 'Offpeak', Dimensions: [['service', 'Repair']] }] },
      service: 'offpeak',
      Repair: 'requeued-stuck-submit',
      ReconcilerRepairs: 1,
    });
    expect(blobs[1]).toMatchObject({ Kind: 'job', DeadLetters: 2 });
  });
});
