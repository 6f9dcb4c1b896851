import { join } from 'node:path';
import type { SQSEvent } from 'aws-lambda';
import type { AwsClients } from '../aws/clients.js';
import { DynamoScheduleStore } from '../aws/dynamo-schedule-store.js';
import { SqsQueue } from '../aws/sqs-queue.js';
import type { Catalog } from '../core/catalog.js';
import type { Clock } from '../core/clock.js';
import type { Log } from '../core/deps.js';
import type { TriggerDeps } from '../core/triggers/trigger-deps.js';
import { DropFolder } from './drop-folder.js';
import type { LambdaHandler } from './lambda-context.js';
import type { LocalEventBus } from './local-event-bus.js';
import { LocalEventRouter } from './local-event-router.js';
import { LocalScheduler } from './local-scheduler.js';
import { LocalSecretSource } from './local-secrets.js';
import { type EnsuredResources, ensureQueueWithDlq } from './resources.js';
import { SqsPoller } from './sqs-poller.js';

export interface LocalTriggersOptions {
  readonly catalog: Catalog;
  readonly clients: AwsClients;
  readonly resources: EnsuredResources;
  readonly dataDir: string;
  /** @default `<dataDir>/drop` */
  readonly dropDir?: string;
  /** @default `<dataDir>/secrets.json` */
  readonly secretsFile?: string;
  /** @default 300 */
  readonly dropSettleMs?: number;
  /** @default 30_000 */
  readonly schedulerMaxSleepMs?: number;
  readonly maxReceiveCount: number;
  readonly visibilityTimeoutSeconds: number;
  readonly clock: Clock;
  readonly log: Log;
}

/** The local stand-ins of every trigger, built before the handlers' deps and started after the pollers. */
export interface LocalTriggers {
  /** For the core's deps (`OffpeakDeps.triggers`). */
  readonly deps: TriggerDeps;
  readonly scheduler: LocalScheduler;
  readonly dropFolder: DropFolder;
  readonly router: LocalEventRouter;
  /** The folder that acts as uploads to `inputs/`. */
  readonly dropDir: string;
  /** Queue trigger id → URL of the local queue standing in for it. */
  readonly queueUrls: Readonly<Record<string, string>>;
  /**
   * Starts them: local queues for queue triggers (polled into `intakeHandler`), Offpeak events routed to event
   * triggers, the drop folder, and the scheduler (which makes up missed runs first).
   */
  start(intakeHandler: LambdaHandler<SQSEvent, unknown>, eventBus: LocalEventBus): Promise<void>;
  /** Stops the scheduler, the folder watch and the queue pollers. */
  stop(): Promise<void>;
}

/**
 * Builds the local triggers (see docs/triggers.md, "Locally"): schedules on the local scheduler over the same
 * records, the drop folder as S3 uploads, webhooks on the local HTTP server (they only need `deps.secrets`), Offpeak
 * events to event triggers, and a local queue per queue trigger.
 */
export function createLocalTriggers(options: LocalTriggersOptions): LocalTriggers {
  const { catalog, clients, resources, clock, log } = options;
  const intake = new SqsQueue({ client: clients.sqs, queueUrl: resources.queues.intake.url });
  const schedules = new DynamoScheduleStore({
    client: clients.documentClient,
    tableName: resources.tableName,
    clock,
  });
  const scheduler = new LocalScheduler({
    catalog,
    store: schedules,
    intake,
    clock,
    log,
    ...(options.schedulerMaxSleepMs !== undefined ? { maxSleepMs: options.schedulerMaxSleepMs } : {}),
  });
  const router = new LocalEventRouter({ catalog, bucketName: resources.bucketName, intake, log });
  const dropDir = options.dropDir ?? join(options.dataDir, 'drop');
  const dropFolder = new DropFolder({
    dir: dropDir,
    bucketName: resources.bucketName,
    s3: clients.s3,
    catalog,
    deliver: (event) => router.route(event, 'default'),
    ledgerFile: join(options.dataDir, 'drop-ledger.json'),
    ...(options.dropSettleMs !== undefined ? { settleMs: options.dropSettleMs } : {}),
    clock,
    log,
  });
  const queueUrls: Record<string, string> = {};
  const pollers: SqsPoller[] = [];
  let unsubscribe: (() => void) | undefined;

  return {
    deps: {
      schedules,
      registry: scheduler,
      secrets: new LocalSecretSource({ file: options.secretsFile ?? join(options.dataDir, 'secrets.json') }),
    },
    scheduler,
    dropFolder,
    router,
    dropDir,
    queueUrls,
    async start(intakeHandler, eventBus) {
      for (const trigger of catalog.triggers().queues) {
        const name = trigger.queueArn.split(':').pop()!;
        const queue = await ensureQueueWithDlq(clients.sqs, name, {
          maxReceiveCount: options.maxReceiveCount,
          visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
          dlqRetentionSeconds: 1_209_600,
        });
        queueUrls[trigger.id] = queue.url;
        const poller = new SqsPoller({
          client: clients.sqs,
          queueUrl: queue.url,
          functionName: `offpeak-intake (${trigger.id})`,
          handler: intakeHandler,
          batchSize: trigger.batchSize,
          // Records carry the configured ARN, as they do on AWS, so the intake knows the trigger.
          eventSourceArn: trigger.queueArn,
          log,
        });
        poller.start();
        pollers.push(poller);
      }
      unsubscribe = eventBus.subscribe((event) => {
        void router
          .route({ ...event, resources: [...event.resources], detail: { ...event.detail } }, 'offpeak')
          .catch((error: unknown) => log.error('Event could not be routed', { error: String(error) }));
      });
      await dropFolder.start();
      await scheduler.start();
    },
    async stop() {
      unsubscribe?.();
      await scheduler.stop();
      await dropFolder.stop();
      await Promise.all(pollers.map((p) => p.stop()));
    },
  };
}
