import { Catalog, type CatalogData } from '../core/catalog.js';
import { type Clock, systemClock } from '../core/clock.js';
import { defaultSettings, type Log, type OffpeakDeps, type Settings, silentLog } from '../core/deps.js';
import { meteredJobStore } from '../core/observability/metered-store.js';
import type { Metrics } from '../core/observability/metrics.js';
import type { QueueOrder } from '../core/queue-spec.js';
import { type SettingsOverrides, SettingsOverridesSchema } from '../core/settings.js';
import { BatchExecutor } from './batch-executor.js';
import { loadCatalogData } from './bundled-catalog.js';
import { type AwsClients, createAwsClients } from './clients.js';
import { CloudWatchLogReader } from './cloudwatch-log-reader.js';
import { DynamoDeadLetterStore } from './dynamo-dead-letter-store.js';
import { DynamoJobStore } from './dynamo-job-store.js';
import { DynamoSchedulingStore } from './dynamo-scheduling-store.js';
import { DynamoStatsSource } from './dynamo-stats-source.js';
import { EventBridgeBus } from './eventbridge-bus.js';
import { ObjectStoreRetryMarkers } from './object-store-retry-markers.js';
import { powertoolsMetrics } from './powertools-metrics.js';
import { S3ObjectStore } from './s3-object-store.js';
import { SqsQueue } from './sqs-queue.js';
import { EnvVars } from './table-schema.js';

export interface AwsDepsOverrides {
  /** The handler's logger (Powertools Logger satisfies Log). @default silentLog */
  readonly log?: Log;
  /**
   * @default createAwsClients(). Without `s3`, jobs get no retry marker location; without `logs`, dead letters
   * carry no log lines.
   */
  readonly clients?: Pick<AwsClients, 'documentClient' | 'sqs' | 'batch' | 'eventbridge'> &
    Partial<Pick<AwsClients, 's3' | 'logs'>>;
  /** @default Powertools Metrics (namespace from POWERTOOLS_METRICS_NAMESPACE, `Offpeak` when unset) */
  readonly metrics?: Metrics;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default defaultSettings */
  readonly settings?: Partial<Settings>;
}

/** The configuration read from the environment, validated as a whole. */
export interface AwsEnvConfig {
  readonly tableName: string;
  readonly dispatchQueueUrl: string;
  readonly eventBusName: string;
  readonly jobQueues: Readonly<Record<string, string>>;
  readonly jobDefinitions: Readonly<Record<string, string>>;
  readonly catalog: CatalogData;
  /**
   * Optional: the Offpeak bucket (`OFFPEAK_BUCKET`: job output locations are `s3://<bucket>/outputs/<jobId>/`,
   * chunk manifests, retry markers), the other work queues (message redrive), job log groups, settings.
   */
  readonly bucketName?: string;
  readonly intakeQueueUrl?: string;
  readonly eventsQueueUrl?: string;
  readonly jobLogGroups: Readonly<Record<string, string>>;
  readonly settings: SettingsOverrides;
}

/**
 * Reads and checks the environment the Lambdas are deployed with.
 * @throws Error listing every missing or invalid variable at once.
 */
export function readAwsEnv(env: NodeJS.ProcessEnv = process.env): AwsEnvConfig {
  const problems: string[] = [];
  const required = (name: string): string => {
    const value = env[name];
    if (value === undefined || value.trim() === '') problems.push(`${name} is not set`);
    return value ?? '';
  };
  const jsonMap = (name: string): Record<string, string> | undefined => {
    const raw = required(name);
    if (raw === '') return undefined;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (isStringMap(parsed)) return parsed;
    } catch {
      // reported below
    }
    problems.push(`${name} must be a JSON object of strings`);
    return undefined;
  };
  const tableName = required(EnvVars.table);
  const dispatchQueueUrl = required(EnvVars.dispatchQueueUrl);
  const eventBusName = required(EnvVars.eventBusName);
  const jobQueues = jsonMap(EnvVars.jobQueues);
  const jobDefinitions = jsonMap(EnvVars.jobDefinitions);
  let catalog: CatalogData | undefined;
  try {
    catalog = loadCatalogData(env);
  } catch (error) {
    problems.push(`catalog: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (catalog && jobQueues) {
    const missing = catalog.queues.map((q) => q.name).filter((name) => jobQueues[name] === undefined);
    if (missing.length > 0) problems.push(`${EnvVars.jobQueues} has no job queue for: ${missing.join(', ')}`);
  }
  if (catalog && jobDefinitions) {
    const missing = catalog.jobTypes.map((t) => t.name).filter((name) => jobDefinitions[name] === undefined);
    if (missing.length > 0)
      problems.push(`${EnvVars.jobDefinitions} has no job definition for: ${missing.join(', ')}`);
  }
  const optional = (name: string) => (env[name]?.trim() ? env[name] : undefined);
  let jobLogGroups: Record<string, string> = {};
  const rawLogGroups = optional(EnvVars.jobLogGroups);
  if (rawLogGroups !== undefined) {
    try {
      const parsed: unknown = JSON.parse(rawLogGroups);
      if (isStringMap(parsed)) jobLogGroups = parsed;
      else problems.push(`${EnvVars.jobLogGroups} must be a JSON object of strings`);
    } catch {
      problems.push(`${EnvVars.jobLogGroups} must be a JSON object of strings`);
    }
  }
  let settings: SettingsOverrides = {};
  const rawSettings = optional(EnvVars.settings);
  if (rawSettings !== undefined) {
    try {
      const parsed = SettingsOverridesSchema.safeParse(JSON.parse(rawSettings));
      if (parsed.success) settings = parsed.data;
      else
        problems.push(
          `${EnvVars.settings}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '/'} ${i.message}`).join('; ')}`,
        );
    } catch {
      problems.push(`${EnvVars.settings} must be a JSON object`);
    }
  }
  if (
    problems.length > 0 ||
    catalog === undefined ||
    jobQueues === undefined ||
    jobDefinitions === undefined
  ) {
    throw new Error(`Invalid Offpeak environment:\n${problems.map((p) => `- ${p}`).join('\n')}`);
  }
  const bucketName = optional(EnvVars.bucket);
  const intakeQueueUrl = optional(EnvVars.intakeQueueUrl);
  const eventsQueueUrl = optional(EnvVars.eventsQueueUrl);
  return {
    tableName,
    dispatchQueueUrl,
    eventBusName,
    jobQueues,
    jobDefinitions,
    catalog,
    ...(bucketName ? { bucketName } : {}),
    ...(intakeQueueUrl ? { intakeQueueUrl } : {}),
    ...(eventsQueueUrl ? { eventsQueueUrl } : {}),
    jobLogGroups,
    settings,
  };
}

/**
 * Builds the core's dependencies on AWS from the environment (see EnvVars).
 *
 * @example
 * const deps = createAwsDeps(process.env, { log: logger });
 * await submit(deps, request);
 */
export function createAwsDeps(
  env: NodeJS.ProcessEnv = process.env,
  overrides: AwsDepsOverrides = {},
): OffpeakDeps {
  const config = readAwsEnv(env);
  const clients = overrides.clients ?? createAwsClients();
  const catalog = new Catalog(config.catalog);
  const dispatchQueue = new SqsQueue({ client: clients.sqs, queueUrl: config.dispatchQueueUrl });
  const queue = (url: string | undefined) =>
    url ? new SqsQueue({ client: clients.sqs, queueUrl: url }) : undefined;
  const intake = queue(config.intakeQueueUrl);
  const events = queue(config.eventsQueueUrl);
  const metrics = overrides.metrics ?? powertoolsMetrics();
  return {
    // Every committed state change records its metrics (jobs submitted, started, succeeded, …; run and wait times).
    store: meteredJobStore(
      new DynamoJobStore({
        client: clients.documentClient,
        tableName: config.tableName,
        queueOrder: queueOrderOf(catalog),
        ...(overrides.clock ? { clock: overrides.clock } : {}),
      }),
      metrics,
    ),
    scheduling: new DynamoSchedulingStore({
      client: clients.documentClient,
      tableName: config.tableName,
      ...(overrides.clock ? { clock: overrides.clock } : {}),
    }),
    catalog,
    executor: new BatchExecutor({
      client: clients.batch,
      catalog,
      jobQueues: config.jobQueues,
      jobDefinitions: config.jobDefinitions,
    }),
    events: new EventBridgeBus({ client: clients.eventbridge, eventBusName: config.eventBusName }),
    dispatchQueue,
    clock: overrides.clock ?? systemClock,
    log: overrides.log ?? silentLog,
    settings: {
      ...defaultSettings,
      ...(config.bucketName ? { outputBaseUri: `s3://${config.bucketName}/outputs/` } : {}),
      ...config.settings,
      ...overrides.settings,
    },
    // The bucket, for chunked and packed job types (manifests, results); every Offpeak Lambda has OFFPEAK_BUCKET.
    ...(config.bucketName && clients.s3
      ? { objects: new S3ObjectStore({ client: clients.s3, bucket: config.bucketName }) }
      : {}),
    deadLetters: new DynamoDeadLetterStore({
      client: clients.documentClient,
      tableName: config.tableName,
      ...(overrides.clock ? { clock: overrides.clock } : {}),
    }),
    ...(clients.logs
      ? {
          logs: new CloudWatchLogReader({
            client: clients.logs,
            logGroups: config.jobLogGroups,
            batch: clients.batch,
          }),
        }
      : {}),
    ...(clients.s3 && config.bucketName
      ? {
          retryMarkers: new ObjectStoreRetryMarkers(
            new S3ObjectStore({ client: clients.s3, bucket: config.bucketName }),
          ),
        }
      : {}),
    metrics,
    stats: new DynamoStatsSource({ client: clients.documentClient, tableName: config.tableName }),
    sourceQueues: { dispatch: dispatchQueue, ...(intake ? { intake } : {}), ...(events ? { events } : {}) },
  };
}

/** A queue's order from the catalog; a queue the catalog does not know dispatches FIFO. */
export function queueOrderOf(catalog: Catalog): (queue: string) => QueueOrder {
  const orders = new Map(catalog.queues().map((q) => [q.name, q.order]));
  return (queue) => orders.get(queue) ?? 'fifo';
}

/** The intake queue (`OFFPEAK_INTAKE_QUEUE_URL`), for triggers that enqueue submissions. */
export function createIntakeQueue(
  env: NodeJS.ProcessEnv = process.env,
  clients?: Pick<AwsClients, 'sqs'>,
): SqsQueue {
  const queueUrl = requireEnv(env, EnvVars.intakeQueueUrl);
  return new SqsQueue({ client: (clients ?? sharedClients()).sqs, queueUrl });
}

/** The Offpeak bucket (`OFFPEAK_BUCKET`). */
export function createObjectStore(
  env: NodeJS.ProcessEnv = process.env,
  clients?: Pick<AwsClients, 's3'>,
): S3ObjectStore {
  const bucket = requireEnv(env, EnvVars.bucket);
  return new S3ObjectStore({ client: (clients ?? sharedClients()).s3, bucket });
}

let memoizedDeps: OffpeakDeps | undefined;
let memoizedClients: AwsClients | undefined;

/**
 * The process-wide dependencies, created on first use (a Lambda container reuses them across invocations).
 * The overrides of the first call win.
 *
 * @example
 * const logger = new Logger();
 * export const handler = middy(async (event) => submit(awsDeps({ log: logger }), parse(event)));
 */
export function awsDeps(overrides: AwsDepsOverrides = {}): OffpeakDeps {
  memoizedDeps ??= createAwsDeps(process.env, {
    ...overrides,
    clients: overrides.clients ?? sharedClients(),
  });
  return memoizedDeps;
}

/** Forgets the memoized dependencies (tests). */
export function resetAwsDeps(): void {
  memoizedDeps = undefined;
  memoizedClients?.destroy();
  memoizedClients = undefined;
}

function sharedClients(): AwsClients {
  memoizedClients ??= createAwsClients();
  return memoizedClients;
}

function requireEnv(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (value === undefined || value.trim() === '')
    throw new Error(`Invalid Offpeak environment:\n- ${name} is not set`);
  return value;
}

function isStringMap(value: unknown): value is Record<string, string> {
  return (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === 'string')
  );
}
