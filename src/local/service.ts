import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { apiRoutes, createApiHandler } from '../../lambdas/api.js';
import { createDeadLetterIngestHandler } from '../../lambdas/dead-letters.js';
import { createDispatcherHandler } from '../../lambdas/dispatcher.js';
import { createIntakeHandler } from '../../lambdas/intake.js';
import { createMonitorHandler } from '../../lambdas/monitor.js';
import { createReconcilerHandler } from '../../lambdas/reconciler.js';
import { createTrackerHandler } from '../../lambdas/tracker.js';
import { type AwsClients, createAwsClients } from '../aws/clients.js';
import { queueOrderOf } from '../aws/deps.js';
import { DynamoDeadLetterStore } from '../aws/dynamo-dead-letter-store.js';
import { DynamoJobStore } from '../aws/dynamo-job-store.js';
import { DynamoSchedulingStore } from '../aws/dynamo-scheduling-store.js';
import { DynamoStatsSource } from '../aws/dynamo-stats-source.js';
import { AwsNotificationSender } from '../aws/notification-sender.js';
import { S3ObjectStore } from '../aws/s3-object-store.js';
import { SqsQueue } from '../aws/sqs-queue.js';
import { EnvVars } from '../aws/table-schema.js';
import { Catalog, type CatalogData } from '../core/catalog.js';
import { type Clock, systemClock } from '../core/clock.js';
import type { CrashPoint } from '../core/crash-point.js';
import type { MessageSource } from '../core/dead-letter.js';
import { defaultSettings, type Log, type OffpeakDeps, type Settings, silentLog } from '../core/deps.js';
import { meteredJobStore } from '../core/observability/metered-store.js';
import { recordHeartbeat } from '../core/services/heartbeat.js';
import { deliverNotifications } from '../core/services/notify.js';
import { type Emulators, startEmulators } from './emulators.js';
import { type FaultConfigInput, FaultInjector, type FaultStats } from './faults.js';
import { FileRetryMarkers } from './file-retry-markers.js';
import { healIndexes } from './heal-indexes.js';
import { startHttpServer } from './http-server.js';
import { createLambdaContext, type LambdaHandler, LocalAws } from './lambda-context.js';
import { LocalEventBus } from './local-event-bus.js';
import { LocalExecutor } from './local-executor.js';
import { LocalLogReader } from './local-log-reader.js';
import { createLocalTriggers, type LocalTriggers } from './local-triggers.js';
import { type FileMetrics, fileMetrics } from './metrics-file.js';
import { defaultLocalResourceNames, type EnsuredResources, ensureResources } from './resources.js';
import { SqsPoller } from './sqs-poller.js';
import { LocalUsageMonitor } from './usage-monitor.js';

export interface LocalServiceOptions {
  /** The job types and queues to run. */
  readonly catalogData: CatalogData;
  /** Where jobs (dynalite), logs and events live; survives restarts. @default '.offpeak' */
  readonly dataDir?: string;
  /** HTTP port on 127.0.0.1; 0 picks a free one. @default 0 */
  readonly port?: number;
  /** Job processes at once (the local compute capacity). @default os.availableParallelism() */
  readonly slots?: number;
  /** How often the dispatcher runs on its own (the one-minute rule on AWS). @default 5_000 */
  readonly dispatchIntervalMs?: number;
  /** How often the reconciler runs (the one-minute rule on AWS). @default 30_000 */
  readonly reconcileIntervalMs?: number;
  /** Core tunables; the local defaults repair drift sooner than AWS's. @default {@link localSettings} */
  readonly settings?: Partial<Settings>;
  /** Visibility timeout of the work queues: how soon a failed message is retried. @default 30 */
  readonly visibilityTimeoutSeconds?: number;
  /** Receives before a message goes to its queue's DLQ. @default 5 */
  readonly maxReceiveCount?: number;
  /** Between SIGTERM and SIGKILL when a job times out or is cancelled. @default 10_000 */
  readonly killGraceMs?: number;
  /** Prefix job log lines with timestamps. @default false */
  readonly timestampLogs?: boolean;
  /** Serve this directory at `/` (the dashboard). @default none */
  readonly staticDir?: string;
  /** The folder that acts as S3 uploads to `inputs/` (upload triggers). @default `<dataDir>/drop` */
  readonly dropDir?: string;
  /** Webhook secrets: `{"<secret ARN or name>": "<value>"}`. @default `<dataDir>/secrets.json` */
  readonly secretsFile?: string;
  /** How long a dropped file must stay unchanged before it counts as uploaded. @default 300 */
  readonly dropSettleMs?: number;
  /** How often the monitor pass publishes queue and straggler metrics (one minute on AWS). @default 60_000 */
  readonly monitorIntervalMs?: number;
  /** How often running job processes are sampled for CPU and memory. @default 1_000 */
  readonly usageSampleMs?: number;
  readonly clock?: Clock;
  readonly log?: Log;
  /** The worker runtime in front of chunked and packed commands. @default node + tsx on src/worker/main.ts */
  readonly workerCommand?: readonly string[];
  /**
   * Fault injection (issue 6): duplicated messages, shuffled or dropped events, throttled DynamoDB/SQS/executor
   * calls, crashes at named points. Only ever read from these options. @default none
   */
  readonly faults?: FaultConfigInput;
  /** Where the fault counts are kept across restarts (JSON). @default in memory only */
  readonly faultStatsFile?: string;
  /** What an injected crash does. @default SIGKILL of this process */
  readonly onCrash?: (point: CrashPoint) => void;
}

/** A running local service. */
export interface LocalService {
  /** `http://127.0.0.1:<port>`: the HTTP API. */
  readonly url: string;
  readonly port: number;
  /** Absolute path of the data directory. */
  readonly dataDir: string;
  /** The dependencies the handlers run with (for tools and tests). */
  readonly deps: OffpeakDeps;
  readonly executor: LocalExecutor;
  readonly eventBus: LocalEventBus;
  readonly resources: EnsuredResources;
  readonly endpoints: Emulators['endpoints'];
  /** Schedules, the drop folder, event routing and queue triggers. */
  readonly triggers: LocalTriggers;
  /** Runs a dispatcher pass now (as the schedule does). */
  dispatchNow(): Promise<void>;
  /** Runs a reconciler pass now (as the schedule does). */
  reconcileNow(): Promise<void>;
  /** Metrics so far: totals by name and dimension (each data point is also appended to `<dataDir>/metrics.jsonl`). */
  readonly metrics: FileMetrics;
  /** What fault injection did so far (all zero without faults). */
  faultStats(): FaultStats;
  /** Runs a monitor pass now (publishes queue and straggler metrics). */
  monitorNow(): Promise<void>;
  /** Stops timers, HTTP, pollers, job processes and emulators, in that order. Safe to call twice. */
  stop(): Promise<void>;
}

/** Local defaults: the reconciler repairs stuck jobs within a minute or two instead of ten. */
export const localSettings: Settings = {
  ...defaultSettings,
  submittingTimeoutMs: 60_000,
  staleActiveMs: 120_000,
};

/**
 * Starts Offpeak on one machine with no AWS account: dynalite (persisted under `<dataDir>/dynamodb`) and fauxqs
 * (SQS + S3, in memory) as AWS, the real Lambda handlers driven by local SQS pollers and timers, the local
 * executor running jobs as child processes, and the HTTP API on 127.0.0.1.
 *
 * Messages in flight are lost at a restart (fauxqs is in memory); jobs are not (dynalite). So on start, before
 * anything else runs, a reconciler pass fails through their retry policy the jobs a previous process was running,
 * and a dispatcher pass releases the jobs that were waiting.
 *
 * @example
 * const service = await startLocalService({ catalogData, port: 8787 });
 * console.log(service.url);
 * process.once('SIGINT', () => void service.stop());
 */
export async function startLocalService(options: LocalServiceOptions): Promise<LocalService> {
  const dataDir = resolve(options.dataDir ?? '.offpeak');
  const log = options.log ?? silentLog;
  const clock = options.clock ?? systemClock;
  const cleanup: Array<() => Promise<void> | void> = [];
  const runCleanup = async () => {
    for (const step of cleanup.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        log.warn('Local service shutdown step failed', { error: String(error) });
      }
    }
  };

  try {
    const { unlock, unclean } = await lockDataDir(dataDir);
    cleanup.push(unlock);
    const emulators = await startEmulators({ dataDir: resolve(dataDir, 'dynamodb') });
    cleanup.push(() => emulators.stop());

    const awsEnvironment: Record<string, string> = {
      AWS_ENDPOINT_URL_DYNAMODB: emulators.endpoints.dynamodb,
      AWS_ENDPOINT_URL_SQS: emulators.endpoints.sqs,
      AWS_ENDPOINT_URL_S3: emulators.endpoints.s3,
      AWS_REGION: emulators.region,
      AWS_DEFAULT_REGION: emulators.region,
      AWS_ACCESS_KEY_ID: emulators.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: emulators.credentials.secretAccessKey,
    };
    // The SDK (and anything else in this process that builds clients) finds the emulators the way it finds AWS.
    const restoreAwsEnv = setEnvironment(awsEnvironment);
    cleanup.push(restoreAwsEnv);
    const clients: AwsClients = createAwsClients({
      region: emulators.region,
      credentials: emulators.credentials,
      endpoints: {
        dynamodb: emulators.endpoints.dynamodb,
        sqs: emulators.endpoints.sqs,
        s3: emulators.endpoints.s3,
      },
    });
    cleanup.push(() => clients.destroy());

    const resources = await ensureResources(clients, defaultLocalResourceNames, {
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 30,
      maxReceiveCount: options.maxReceiveCount ?? 5,
    });
    if (unclean) {
      // The previous process died without stopping (a crash): dynalite may have half-written some index entries.
      const healed = await healIndexes(clients.dynamodb, resources.tableName);
      log.warn('Local service did not stop cleanly last time; table indexes checked', { ...healed });
    }
    const restoreOffpeakEnv = setEnvironment({
      [EnvVars.table]: resources.tableName,
      [EnvVars.bucket]: resources.bucketName,
      [EnvVars.intakeQueueUrl]: resources.queues.intake.url,
      [EnvVars.dispatchQueueUrl]: resources.queues.dispatch.url,
      [EnvVars.eventsQueueUrl]: resources.queues.events.url,
    });
    cleanup.push(restoreOffpeakEnv);

    const catalog = new Catalog(options.catalogData);
    const faults = new FaultInjector(options.faults ?? {}, {
      log,
      ...(options.faultStatsFile ? { statsFile: options.faultStatsFile } : {}),
      ...(options.onCrash ? { onCrash: options.onCrash } : {}),
    });
    cleanup.push(() => faults.close());
    if (faults.enabled) log.warn('Fault injection is on', { faults: faults.config });
    faults.attachToClients(clients);
    // Job processes report CPU and memory to their job through the same core function a worker's heartbeat uses.
    let depsRef: OffpeakDeps | undefined;
    const usageMonitor = new LocalUsageMonitor({
      report: async (jobId, heartbeat) => {
        if (!depsRef) return false;
        const job = await recordHeartbeat(depsRef, jobId, heartbeat);
        return job.attempts.some((a) => a.attempt === heartbeat.attempt);
      },
      ...(options.usageSampleMs !== undefined ? { sampleMs: options.usageSampleMs } : {}),
      clock,
      log,
    });
    cleanup.push(() => usageMonitor.close());
    const eventsQueue = new SqsQueue({ client: clients.sqs, queueUrl: resources.queues.events.url });
    const executor = new LocalExecutor({
      catalog,
      dataDir,
      // EventBridge rule → events queue, as on AWS (fault injection may lose or delay an event on the way).
      sink: async (event) => {
        const delivery = faults.eventDelivery();
        if (delivery.drop) return;
        await eventsQueue.send(event, delivery.delaySeconds ? { delaySeconds: delivery.delaySeconds } : {});
      },
      ...(options.slots !== undefined ? { slots: options.slots } : {}),
      ...(options.killGraceMs !== undefined ? { killGraceMs: options.killGraceMs } : {}),
      ...(options.timestampLogs !== undefined ? { timestampLogs: options.timestampLogs } : {}),
      ...(options.workerCommand !== undefined ? { workerCommand: options.workerCommand } : {}),
      // Jobs that use an AWS SDK or the AWS CLI reach the emulators and the local bucket.
      environment: { ...awsEnvironment, [EnvVars.bucket]: resources.bucketName },
      processListener: usageMonitor,
      clock,
      log,
    });
    cleanup.push(() => executor.close());
    const eventBus = new LocalEventBus({ dataDir, clock, log });
    const triggers = createLocalTriggers({
      catalog,
      clients,
      resources,
      dataDir,
      ...(options.dropDir !== undefined ? { dropDir: resolve(options.dropDir) } : {}),
      ...(options.secretsFile !== undefined ? { secretsFile: resolve(options.secretsFile) } : {}),
      ...(options.dropSettleMs !== undefined ? { dropSettleMs: options.dropSettleMs } : {}),
      maxReceiveCount: options.maxReceiveCount ?? 5,
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 30,
      clock,
      log,
    });

    const metrics = fileMetrics(join(dataDir, 'metrics.jsonl'));
    const dispatchQueue = new SqsQueue({ client: clients.sqs, queueUrl: resources.queues.dispatch.url });
    const crashPoints = faults.crashPoints();
    const deps: OffpeakDeps = {
      store: meteredJobStore(
        new DynamoJobStore({
          client: clients.documentClient,
          tableName: resources.tableName,
          queueOrder: queueOrderOf(catalog),
          clock,
        }),
        metrics,
      ),
      scheduling: new DynamoSchedulingStore({
        client: clients.documentClient,
        tableName: resources.tableName,
        clock,
      }),
      catalog,
      executor: faults.wrapExecutor(executor),
      events: eventBus,
      dispatchQueue,
      clock,
      log,
      settings: {
        ...localSettings,
        outputBaseUri: `s3://${resources.bucketName}/outputs/`,
        ...options.settings,
      },
      triggers: triggers.deps,
      objects: new S3ObjectStore({ client: clients.s3, bucket: resources.bucketName }),
      deadLetters: new DynamoDeadLetterStore({
        client: clients.documentClient,
        tableName: resources.tableName,
        clock,
      }),
      logs: new LocalLogReader(dataDir),
      retryMarkers: new FileRetryMarkers(dataDir),
      metrics,
      sourceQueues: {
        intake: new SqsQueue({ client: clients.sqs, queueUrl: resources.queues.intake.url }),
        dispatch: dispatchQueue,
        events: eventsQueue,
      },
      ...(crashPoints ? { crashPoints } : {}),
      stats: new DynamoStatsSource({ client: clients.documentClient, tableName: resources.tableName }),
    };
    depsRef = deps;
    const getDeps = () => deps;
    const dispatcher = createDispatcherHandler(getDeps);
    // Routine passes that found nothing to do are debug lines, not a line every few seconds.
    const tickDeps: OffpeakDeps = { ...deps, log: quietRoutinePasses(log) };
    const scheduledDispatcher = createDispatcherHandler(() => tickDeps);
    const reconciler = createReconcilerHandler(() => tickDeps);

    // Everything a previous process was running is gone with it: repair now, before new work arrives.
    const startupDeps: OffpeakDeps = {
      ...tickDeps,
      settings: {
        ...deps.settings,
        staleActiveMs: 0,
        submittingTimeoutMs: 0,
        effectsGraceMs: 0,
        waitingCheckMs: 0,
        // Nothing else acquires or releases a slot before the pollers start: counters can be recounted at once.
        slotRecountSettleMs: 0,
      },
    };
    // (The handler logs what it repaired, as "Reconciler pass".)
    await invokeScheduled(
      createReconcilerHandler(() => startupDeps),
      'offpeak-reconciler',
      log,
    );

    const intakeHandler = createIntakeHandler(getDeps);
    const [intakePoller, dispatchPoller, trackerPoller] = [
      {
        queue: resources.queues.intake,
        name: 'offpeak-intake',
        handler: intakeHandler,
        batchSize: 10,
      },
      { queue: resources.queues.dispatch, name: 'offpeak-dispatcher', handler: dispatcher, batchSize: 10 },
      {
        queue: resources.queues.events,
        name: 'offpeak-tracker',
        handler: createTrackerHandler(getDeps),
        batchSize: 100,
      },
    ].map(
      ({ queue, name, handler, batchSize }) =>
        new SqsPoller({
          client: clients.sqs,
          queueUrl: queue.url,
          functionName: name,
          handler,
          batchSize,
          log,
          faults: faults.pollerFaults(name === 'offpeak-tracker'),
        }),
    ) as [SqsPoller, SqsPoller, SqsPoller];
    // The dead-letter ingester on every DLQ, as its Lambda's event source mappings do on AWS.
    const deadLetterPollers = (
      [
        ['intake', resources.queues.intake.dlqUrl],
        ['dispatch', resources.queues.dispatch.dlqUrl],
        ['events', resources.queues.events.dlqUrl],
      ] as const
    ).map(
      ([source, queueUrl]) =>
        new SqsPoller({
          client: clients.sqs,
          queueUrl,
          functionName: 'offpeak-dead-letters',
          handler: createDeadLetterIngestHandler(getDeps, (): MessageSource => source),
          batchSize: 10,
          log,
        }),
    );
    const allPollers = [intakePoller, dispatchPoller, trackerPoller, ...deadLetterPollers];
    for (const poller of allPollers) poller.start();
    cleanup.push(() => Promise.all(allPollers.map((p) => p.stop())).then(() => {}));

    const ticks = [
      new Tick('offpeak-dispatcher', scheduledDispatcher, options.dispatchIntervalMs ?? 5_000, log),
      new Tick('offpeak-reconciler', reconciler, options.reconcileIntervalMs ?? 30_000, log),
      new Tick(
        'offpeak-monitor',
        createMonitorHandler(() => tickDeps),
        options.monitorIntervalMs ?? 60_000,
        log,
      ),
    ] as const;
    await ticks[0].run(); // jobs that were QUEUED before a restart start now
    for (const tick of ticks) tick.start();
    cleanup.push(() => Promise.all(ticks.map((t) => t.stop())).then(() => {}));

    // Schedules (missed runs first), the drop folder, event routing and queue triggers feed the intake poller.
    cleanup.push(() => triggers.stop());
    await triggers.start(intakeHandler, eventBus);

    const http = await startHttpServer({
      handler: createApiHandler(getDeps),
      routes: apiRoutes,
      port: options.port ?? 0,
      log,
      ...(options.staticDir !== undefined ? { staticDir: options.staticDir } : {}),
    });
    cleanup.push(() => http.close());
    // Job types' notifications (webhooks; SNS only on AWS), as the notifier Lambda sends them from the bus.
    const notifier = new AwsNotificationSender({});
    const stopNotifying = eventBus.subscribe((event) => {
      void deliverNotifications(
        { catalog, sender: notifier, log, now: () => clock.now() },
        event,
        http.url,
      ).catch(
        () => undefined, // logged by deliverNotifications
      );
    });
    cleanup.push(stopNotifying);

    /**
     * No new work first (timers, API, dispatcher), then the job processes; then the tracker records the state
     * changes already sent, so jobs that finished before the stop are not mistaken for lost ones at the restart.
     */
    const shutdown = async () => {
      const step = async (name: string, run: () => Promise<unknown>) => {
        try {
          await run();
        } catch (error) {
          log.warn('Local service shutdown step failed', { step: name, error: String(error) });
        }
      };
      cleanup.length = 0;
      await step('timers', () => Promise.all(ticks.map((t) => t.stop())));
      stopNotifying();
      await step('triggers', () => triggers.stop());
      await step('http', () => http.close());
      await step('dispatch poller', () => dispatchPoller.stop());
      await step('executor', () => executor.close());
      await step('usage', () => usageMonitor.close());
      await step('events drain', () => drainQueue(clients, resources.queues.events.url, 3_000));
      await step('pollers', () =>
        Promise.all([intakePoller, trackerPoller, ...deadLetterPollers].map((p) => p.stop())),
      );
      faults.close();
      await step('metrics', () => metrics.flushed());
      clients.destroy();
      restoreAwsEnv();
      restoreOffpeakEnv();
      await step('emulators', () => emulators.stop());
      await step('lock', unlock);
    };

    let stopping: Promise<void> | undefined;
    return {
      url: http.url,
      port: http.port,
      dataDir,
      deps,
      executor,
      eventBus,
      resources,
      endpoints: emulators.endpoints,
      triggers,
      dispatchNow: () => ticks[0].run(),
      reconcileNow: () => ticks[1].run(),
      metrics,
      faultStats: () => faults.stats(),
      monitorNow: () => ticks[2].run(),
      stop() {
        stopping ??= shutdown();
        return stopping;
      },
    };
  } catch (error) {
    await runCleanup();
    throw error;
  }
}

/** An EventBridge "Scheduled Event", typed so that handlers accepting SQS events or schedules can take it. */
type TickEvent = ScheduledEvent & { readonly Records?: undefined; readonly [key: string]: unknown };

/** Runs a scheduled handler on an interval; a run still going when the next is due is not overlapped. */
class Tick {
  #timer: NodeJS.Timeout | undefined;
  #current: Promise<void> | undefined;
  #stopped = false;

  constructor(
    readonly functionName: string,
    readonly handler: LambdaHandler<TickEvent, unknown>,
    readonly intervalMs: number,
    readonly log: Log,
  ) {}

  start(): void {
    if (this.intervalMs <= 0 || this.#stopped) return;
    this.#timer = setInterval(() => {
      if (!this.#current) void this.run();
    }, this.intervalMs);
  }

  run(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    this.#current ??= invokeScheduled(this.handler, this.functionName, this.log)
      .then(() => undefined)
      .finally(() => {
        this.#current = undefined;
      });
    return this.#current;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#current;
  }
}

/** Invokes a handler with the EventBridge "Scheduled Event" its one-minute rule sends on AWS. */
async function invokeScheduled<R>(
  handler: LambdaHandler<TickEvent, R>,
  functionName: string,
  log: Log,
): Promise<R | undefined> {
  const event: TickEvent = {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: LocalAws.accountId,
    time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: LocalAws.region,
    resources: [`arn:aws:events:${LocalAws.region}:${LocalAws.accountId}:rule/offpeak-local-tick`],
    detail: {},
  };
  const context: Context = createLambdaContext({ functionName, timeoutMs: 60_000 });
  try {
    return await handler(event, context);
  } catch (error) {
    log.error('Scheduled invocation failed', { function: functionName, error: String(error) });
    return undefined;
  }
}

/** Waits until a queue has no messages, visible or in flight (bounded). */
async function drainQueue(clients: AwsClients, queueUrl: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { Attributes: a } = await clients.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    if (
      Number(a?.ApproximateNumberOfMessages ?? 0) + Number(a?.ApproximateNumberOfMessagesNotVisible ?? 0) ===
      0
    ) {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

const ROUTINE_PASSES = new Set(['Scheduled dispatch pass', 'Reconciler pass']);

/** A log on which a scheduled pass that changed nothing is a debug line. */
function quietRoutinePasses(log: Log): Log {
  return {
    debug: (message, extra) => log.debug(message, extra),
    warn: (message, extra) => log.warn(message, extra),
    error: (message, extra) => log.error(message, extra),
    info(message, extra) {
      if (ROUTINE_PASSES.has(message) && !didSomething(extra)) log.debug(message, extra);
      else log.info(message, extra);
    },
  };
}

function didSomething(extra: unknown): boolean {
  if (Array.isArray(extra)) return extra.some(didSomething);
  if (extra === null || typeof extra !== 'object') return false;
  return Object.entries(extra).some(([key, value]) =>
    typeof value === 'number'
      ? key !== 'errors' && value > 0
      : typeof value === 'object' && didSomething(value),
  );
}

/** Sets variables on process.env. @returns a function that puts the previous values back. */
function setEnvironment(values: Record<string, string>): () => void {
  const previous = Object.fromEntries(Object.keys(values).map((key) => [key, process.env[key]]));
  Object.assign(process.env, values);
  return () => {
    for (const [key, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}

/**
 * One service per data directory: dynalite's LevelDB cannot be shared, and a second opener crashes on its first
 * request. A lock file with our pid says who holds it; a lock left by a process that is gone is taken over, and
 * says that process did not stop cleanly.
 * @returns a function that releases the lock, and whether the last service on this directory crashed.
 */
async function lockDataDir(
  dataDir: string,
): Promise<{ readonly unlock: () => Promise<void>; readonly unclean: boolean }> {
  if (lockedHere.has(dataDir))
    throw new Error(`A local service in this process is already using ${dataDir}.`);
  await mkdir(dataDir, { recursive: true });
  const file = join(dataDir, 'service.pid');
  let unclean = false;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(file, `${process.pid}\n`, { flag: 'wx' });
      lockedHere.add(dataDir);
      const unlock = async () => {
        lockedHere.delete(dataDir);
        if ((await readFile(file, 'utf8').catch(() => '')).trim() === String(process.pid))
          await rm(file, { force: true });
      };
      return { unlock, unclean };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        throw new Error(
          `Another Offpeak local service (pid ${holder}) is using ${dataDir}. Stop it, or pass another --data-dir.`,
        );
      }
      await rm(file, { force: true }); // stale: its process is gone, without a clean stop
      unclean = true;
    }
  }
  throw new Error(`Could not lock ${dataDir}`);
}

const lockedHere = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
