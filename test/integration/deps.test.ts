import { afterEach, describe, expect, it } from 'vitest';
import { BatchExecutor } from '../../src/aws/batch-executor.js';
import { createAwsClients } from '../../src/aws/clients.js';
import { CloudWatchLogReader } from '../../src/aws/cloudwatch-log-reader.js';
import {
  awsDeps,
  createAwsDeps,
  createIntakeQueue,
  createObjectStore,
  readAwsEnv,
  resetAwsDeps,
} from '../../src/aws/deps.js';
import { DynamoDeadLetterStore } from '../../src/aws/dynamo-dead-letter-store.js';
import { DynamoJobStore } from '../../src/aws/dynamo-job-store.js';
import { DynamoSchedulingStore } from '../../src/aws/dynamo-scheduling-store.js';
import { DynamoStatsSource } from '../../src/aws/dynamo-stats-source.js';
import { EventBridgeBus } from '../../src/aws/eventbridge-bus.js';
import { ObjectStoreRetryMarkers } from '../../src/aws/object-store-retry-markers.js';
import { S3ObjectStore } from '../../src/aws/s3-object-store.js';
import { SqsQueue } from '../../src/aws/sqs-queue.js';
import { buildCatalogData } from '../../src/core/catalog.js';
import { defaultSettings, type Log } from '../../src/core/deps.js';

const catalog = buildCatalogData({
  jobTypes: [{ name: 'report', image: 'img', command: ['run'] }],
  queues: [
    { name: 'normal', batchPriority: 1 },
    { name: 'stack', batchPriority: 2, order: 'lifo' },
  ],
});

const env = {
  OFFPEAK_TABLE: 'offpeak-table',
  OFFPEAK_BUCKET: 'offpeak-bucket',
  OFFPEAK_INTAKE_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/1/intake',
  OFFPEAK_DISPATCH_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/1/dispatch',
  OFFPEAK_EVENT_BUS_NAME: 'offpeak-bus',
  OFFPEAK_JOB_QUEUES: JSON.stringify({ normal: 'arn:jq/normal', stack: 'arn:jq/stack' }),
  OFFPEAK_JOB_DEFINITIONS: JSON.stringify({ report: 'arn:jd/report:3' }),
  OFFPEAK_CATALOG: JSON.stringify(catalog),
};

afterEach(() => {
  resetAwsDeps();
});

describe('readAwsEnv', () => {
  it('reads a complete environment', () => {
    expect(readAwsEnv(env)).toEqual({
      tableName: 'offpeak-table',
      dispatchQueueUrl: env.OFFPEAK_DISPATCH_QUEUE_URL,
      eventBusName: 'offpeak-bus',
      jobQueues: { normal: 'arn:jq/normal', stack: 'arn:jq/stack' },
      jobDefinitions: { report: 'arn:jd/report:3' },
      catalog,
      bucketName: 'offpeak-bucket',
      intakeQueueUrl: env.OFFPEAK_INTAKE_QUEUE_URL,
      jobLogGroups: {},
      settings: {},
    });
  });

  it('reads the optional job log groups and settings overrides, and refuses unknown or bad settings', () => {
    expect(
      readAwsEnv({
        ...env,
        OFFPEAK_JOB_LOG_GROUPS: '{"report":"/offpeak/jobs/report"}',
        OFFPEAK_SETTINGS: '{"idempotencyRetentionHours":48,"runnableTimeoutAction":"fail"}',
      }),
    ).toMatchObject({
      bucketName: 'offpeak-bucket',
      jobLogGroups: { report: '/offpeak/jobs/report' },
      settings: { idempotencyRetentionHours: 48, runnableTimeoutAction: 'fail' },
    });
    expect(() =>
      readAwsEnv({
        ...env,
        OFFPEAK_SETTINGS: '{"idempotencyRetentionHour":48,"runnableTimeoutAction":"panic"}',
      }),
    ).toThrow(/OFFPEAK_SETTINGS: .*runnableTimeoutAction.*idempotencyRetentionHour/s);
    expect(() => readAwsEnv({ ...env, OFFPEAK_JOB_LOG_GROUPS: '[1]' })).toThrow(/OFFPEAK_JOB_LOG_GROUPS/);
  });

  it('lists every missing variable in one error', () => {
    let message = '';
    try {
      readAwsEnv({});
    } catch (error) {
      message = (error as Error).message;
    }
    for (const name of [
      'OFFPEAK_TABLE',
      'OFFPEAK_DISPATCH_QUEUE_URL',
      'OFFPEAK_EVENT_BUS_NAME',
      'OFFPEAK_JOB_QUEUES',
      'OFFPEAK_JOB_DEFINITIONS',
      'OFFPEAK_CATALOG',
    ]) {
      expect(message).toContain(name);
    }
  });

  it('reports invalid JSON and mappings that miss catalog entries', () => {
    expect(() =>
      readAwsEnv({ ...env, OFFPEAK_JOB_QUEUES: '{"normal": 1}', OFFPEAK_JOB_DEFINITIONS: '[' }),
    ).toThrow(
      /OFFPEAK_JOB_QUEUES must be a JSON object of strings[\s\S]*OFFPEAK_JOB_DEFINITIONS must be a JSON object/,
    );
    expect(() =>
      readAwsEnv({
        ...env,
        OFFPEAK_JOB_QUEUES: '{"normal":"arn:q"}',
        OFFPEAK_JOB_DEFINITIONS: '{"x":"arn:d"}',
      }),
    ).toThrow(/no job queue for: stack[\s\S]*no job definition for: report/);
    expect(() => readAwsEnv({ ...env, OFFPEAK_JOB_QUEUES: '{}' })).toThrow(/no job queue for: normal, stack/);
  });
});

describe('createAwsDeps', () => {
  it('wires the AWS adapters, the catalog, the settings and the given logger', () => {
    const log: Log = { debug() {}, info() {}, warn() {}, error() {} };
    const clients = createAwsClients({ region: 'eu-west-1' });

    const deps = createAwsDeps(env, { log, clients, settings: { dispatchBatchSize: 7 } });

    expect(deps.store).toBeInstanceOf(DynamoJobStore);
    expect(deps.scheduling).toBeInstanceOf(DynamoSchedulingStore);
    expect(deps.executor).toBeInstanceOf(BatchExecutor);
    expect(deps.events).toBeInstanceOf(EventBridgeBus);
    expect(deps.dispatchQueue).toBeInstanceOf(SqsQueue);
    expect((deps.dispatchQueue as SqsQueue).queueUrl).toBe(env.OFFPEAK_DISPATCH_QUEUE_URL);
    expect(deps.catalog.queue('stack').order).toBe('lifo');
    expect(deps.log).toBe(log);
    expect(deps.settings).toEqual({
      ...defaultSettings,
      dispatchBatchSize: 7,
      outputBaseUri: 's3://offpeak-bucket/outputs/',
    });
    // Reliability ports: dead letters in the table, log tails, retry markers in the bucket, redrive queues, and
    // never a crash hook (fault injection is local only).
    expect(deps.deadLetters).toBeInstanceOf(DynamoDeadLetterStore);
    expect(deps.logs).toBeInstanceOf(CloudWatchLogReader);
    expect(deps.retryMarkers).toBeInstanceOf(ObjectStoreRetryMarkers);
    expect(deps.retryMarkers?.location('J', 1)).toBe('s3://offpeak-bucket/outputs/J/_offpeak/retry-after-1');
    expect(typeof deps.metrics?.record).toBe('function');
    expect(deps.stats).toBeInstanceOf(DynamoStatsSource);
    expect(Object.keys(deps.sourceQueues ?? {}).sort()).toEqual(['dispatch', 'intake']);
    expect(deps.crashPoints).toBeUndefined();
    clients.destroy();
  });

  it('takes settings from OFFPEAK_SETTINGS, below the overrides of the caller', () => {
    const clients = createAwsClients({ region: 'eu-west-1' });
    const deps = createAwsDeps(
      { ...env, OFFPEAK_SETTINGS: '{"idempotencyRetentionHours":48,"dispatchBatchSize":3}' },
      { clients, settings: { dispatchBatchSize: 7 } },
    );
    expect(deps.settings).toEqual({
      ...defaultSettings,
      idempotencyRetentionHours: 48,
      dispatchBatchSize: 7,
      outputBaseUri: 's3://offpeak-bucket/outputs/',
    });
    clients.destroy();
  });

  it('builds the intake queue and the object store from the environment', () => {
    const clients = createAwsClients({ region: 'eu-west-1' });

    expect(createIntakeQueue(env, clients).queueUrl).toBe(env.OFFPEAK_INTAKE_QUEUE_URL);
    const objects = createObjectStore(env, clients);
    expect(objects).toBeInstanceOf(S3ObjectStore);
    expect(objects.uri('a/b')).toBe('s3://offpeak-bucket/a/b');
    expect(() => createObjectStore({}, clients)).toThrow(/OFFPEAK_BUCKET/);
    clients.destroy();
  });

  it('memoizes the process-wide dependencies', () => {
    const saved = { ...process.env };
    Object.assign(process.env, env, { AWS_REGION: 'eu-west-1' });
    try {
      const first = awsDeps();
      expect(awsDeps()).toBe(first);
      resetAwsDeps();
      expect(awsDeps()).not.toBe(first);
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });
});
