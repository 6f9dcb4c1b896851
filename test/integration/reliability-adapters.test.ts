import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  CloudWatchLogsClient,
  GetLogEventsCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-cloudwatch-logs';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { CloudWatchLogReader } from '../../src/aws/cloudwatch-log-reader.js';
import { ObjectStoreRetryMarkers } from '../../src/aws/object-store-retry-markers.js';
import { PowertoolsMetricsPort } from '../../src/aws/powertools-metrics.js';
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

describe('CloudWatchLogReader (mocked CloudWatch Logs)', () => {
  const logs = mockClient(CloudWatchLogsClient);
  beforeEach(() => logs.reset());
  const reader = () =>
    new CloudWatchLogReader({
      client: new CloudWatchLogsClient({ region: 'eu-west-1' }),
      logGroups: { hello: '/offpeak/jobs/hello' },
    });

  it('reads the newest events of the attempt stream in the job type group, oldest first', async () => {
    logs.on(GetLogEventsCommand).resolves({
      events: [
        { timestamp: 1, message: 'starting\n' },
        { timestamp: 2, message: 'ERROR boom' },
      ],
    });
    expect(await reader().tail({ jobId: 'J', jobType: 'hello', logStream: 'hello/default/abc' }, 50)).toEqual(
      ['starting', 'ERROR boom'],
    );
    expect(logs.commandCalls(GetLogEventsCommand)[0]?.args[0].input).toEqual({
      logGroupName: '/offpeak/jobs/hello',
      logStreamName: 'hello/default/abc',
      startFromHead: false,
      limit: 50,
    });
  });

  it('answers [] for a stream that never got a line, an unknown type or no stream, and throws on other errors', async () => {
    logs
      .on(GetLogEventsCommand)
      .rejectsOnce(
        new ResourceNotFoundException({ message: 'The specified log stream does not exist.', $metadata: {} }),
      )
      .rejectsOnce(new Error('AccessDeniedException'));
    expect(await reader().tail({ jobId: 'J', jobType: 'hello', logStream: 's' }, 10)).toEqual([]);
    await expect(reader().tail({ jobId: 'J', jobType: 'hello', logStream: 's' }, 10)).rejects.toThrow(
      /AccessDenied/,
    );
    expect(await reader().tail({ jobId: 'J', jobType: 'other', logStream: 's' }, 10)).toEqual([]);
    expect(await reader().tail({ jobId: 'J', jobType: 'hello' }, 10)).toEqual([]);
    expect(logs.commandCalls(GetLogEventsCommand)).toHaveLength(2);
  });
});

describe('PowertoolsMetricsPort', () => {
  const written: string[] = [];
  beforeEach(() => {
    written.length = 0;
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
  });
  afterEach(() => vi.restoreAllMocks());

  it('writes one EMF blob per count with its own dimensions and the service dimension, at once', () => {
    const port = new PowertoolsMetricsPort(new Metrics({ namespace: 'Offpeak', serviceName: 'offpeak' }));
    port.count('ReconcilerRepairs', { repair: 'requeued-stuck-submit' });
    port.count('DeadLetters', { kind: 'job' }, 2);
    const blobs = written
      .flatMap((w) => w.split('\n'))
      .filter((line) => line.includes('_aws'))
      .map((l) => JSON.parse(l));
    expect(blobs).toHaveLength(2);
    expect(blobs[0]).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Namespace: 'Offpeak', Dimensions: [['service', 'repair']] }] },
      service: 'offpeak',
      repair: 'requeued-stuck-submit',
      ReconcilerRepairs: 1,
    });
    expect(blobs[1]).toMatchObject({ kind: 'job', DeadLetters: 2 });
  });
});
