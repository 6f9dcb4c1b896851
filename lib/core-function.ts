import { type Duration, type RemovalPolicy, type Size, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { EnvVars } from '../src/aws/table-schema.js';
import type { CatalogData } from '../src/core/catalog.js';
import type { SettingsOverrides } from '../src/core/settings.js';
import { type BatchResources, type BatchUse, OffpeakFunction } from './offpeak-function.js';
import type { OffpeakQueues } from './queues.js';

/** What every Offpeak Lambda is wired to (design §1): the store, the bucket, the queues, the bus, Batch. */
export interface OffpeakRuntime {
  readonly catalog: CatalogData;
  readonly table: dynamodb.ITable;
  readonly bucket: s3.IBucket;
  readonly queues: OffpeakQueues;
  readonly eventBus: events.IEventBus;
  readonly batch: BatchResources;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** Job type name → the log group of its containers (dead letters keep the last lines). @default - none */
  readonly jobLogGroups?: Readonly<Record<string, logs.ILogGroup>>;
  /** Core settings overriding the defaults, set as `OFFPEAK_SETTINGS` on every function. @default - none */
  readonly settings?: SettingsOverrides;
}

/** What one Lambda needs beyond what every core writer gets. */
export interface CoreFunctionOptions {
  readonly entry: string;
  readonly description: string;
  readonly timeout: Duration;
  /** @default Size.mebibytes(512) */
  readonly memorySize?: Size;
  /** Batch calls it makes. @default - none */
  readonly batch?: BatchUse;
  /** Bucket prefixes it reads and writes. @default - no object access */
  readonly bucket?: { readonly read?: readonly string[]; readonly write?: readonly string[] };
  /** Reads job logs (`logs:GetLogEvents` on the job log groups): it records job dead letters. @default false */
  readonly jobLogs?: boolean;
}

/**
 * A Lambda that runs core services. Every one of them changes job state through the transition table, whose
 * effects publish Offpeak events and nudge the dispatcher, so each gets: the table (read/write), `events:PutEvents`
 * on the bus, `sqs:SendMessage` on the dispatch queue. Every resource-naming environment variable is set on all of
 * them (the AWS deps factory validates the whole environment at once); permissions beyond the core writer's are
 * granted only where asked.
 */
export function coreFunction(
  scope: Construct,
  id: string,
  runtime: OffpeakRuntime,
  options: CoreFunctionOptions,
) {
  const fn = new OffpeakFunction(scope, id, {
    entry: options.entry,
    description: options.description,
    catalog: runtime.catalog,
    timeout: options.timeout,
    memorySize: options.memorySize,
    logRetention: runtime.logRetention,
    logRemovalPolicy: runtime.logRemovalPolicy,
  });
  fn.useTable(runtime.table)
    .useEventBus(runtime.eventBus)
    .useQueue(EnvVars.dispatchQueueUrl, runtime.queues.dispatchQueue, 'send')
    .useBatch(runtime.batch, options.batch ?? {})
    .addEnvironment(EnvVars.intakeQueueUrl, runtime.queues.intakeQueue.queueUrl)
    .addEnvironment(EnvVars.eventsQueueUrl, runtime.queues.eventsQueue.queueUrl);
  if (options.bucket) fn.useBucket(runtime.bucket, options.bucket);
  else fn.addEnvironment(EnvVars.bucket, runtime.bucket.bucketName);
  // Reliability (issue 6): job log groups by type (read only where granted) and the deployment's settings.
  const logGroups = runtime.jobLogGroups ?? {};
  fn.addEnvironment(
    EnvVars.jobLogGroups,
    Stack.of(scope).toJsonString(
      Object.fromEntries(Object.entries(logGroups).map(([k, g]) => [k, g.logGroupName])),
    ),
  );
  if (options.jobLogs) fn.useJobLogs(Object.values(logGroups));
  if (runtime.settings && Object.keys(runtime.settings).length > 0) {
    fn.addEnvironment(EnvVars.settings, JSON.stringify(runtime.settings));
  }
  return fn;
}
