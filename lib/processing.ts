import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import { Construct } from 'constructs';
import { EnvVars } from '../src/aws/table-schema.js';
import { BucketPrefixes } from './bucket-layout.js';
import { coreFunction, type OffpeakRuntime } from './core-function.js';
import type { OffpeakEvents } from './events.js';
import type { OffpeakFunction } from './offpeak-function.js';
import { lambdaEntry } from './paths.js';
import type { QueueConsumer } from './queues.js';

/** How each queue-driven Lambda consumes its queue; the queues derive their visibility timeouts from it. */
export const queueConsumers = {
  /** Submissions from triggers: small batches, processed in parallel. */
  intake: { timeout: Duration.seconds(30), batchSize: 10, maxBatchingWindow: Duration.seconds(1) },
  /** Nudges coalesce: many nudges in one batch cost one dispatch pass per queue. */
  dispatch: {
    timeout: Duration.seconds(60),
    batchSize: 10,
    maxBatchingWindow: Duration.seconds(1),
    maxConcurrency: 2,
  },
  /** Batch state changes: large batches so chunk outcomes of one job are aggregated before writing. */
  events: { timeout: Duration.seconds(60), batchSize: 100, maxBatchingWindow: Duration.seconds(5) },
} as const satisfies Record<string, QueueConsumer & { batchSize: number; maxConcurrency?: number }>;

/** Props of {@link OffpeakProcessing}. */
export interface OffpeakProcessingProps {
  readonly runtime: OffpeakRuntime;
  /** Offpeak's events construct: schedules deliver through its target options (retries, then its DLQ). */
  readonly events: OffpeakEvents;
  /** How often the dispatcher and the reconciler run without being nudged. @default Duration.minutes(1) */
  readonly tickInterval?: Duration;
}

/**
 * The queue- and schedule-driven Lambdas (design §1): intake (intake queue), dispatcher (dispatch queue and a
 * schedule), tracker (events queue), reconciler (schedule). SQS event sources report partial batch failures, so a
 * failing record is retried alone and reaches its DLQ after maxReceiveCount.
 */
export class OffpeakProcessing extends Construct {
  readonly intake: OffpeakFunction;
  readonly dispatcher: OffpeakFunction;
  readonly tracker: OffpeakFunction;
  readonly reconciler: OffpeakFunction;
  /** The schedule that runs the dispatcher and the reconciler. */
  readonly tickRule: events.Rule;

  constructor(scope: Construct, id: string, props: OffpeakProcessingProps) {
    super(scope, id);
    const { runtime } = props;
    const { queues } = runtime;

    this.intake = coreFunction(this, 'Intake', runtime, {
      entry: lambdaEntry('intake'),
      description: 'Offpeak intake: submit requests from the intake queue',
      timeout: queueConsumers.intake.timeout,
      bucket: { write: [BucketPrefixes.payloads] },
    });
    this.intake.useQueue(EnvVars.intakeQueueUrl, queues.intakeQueue, 'consume');
    this.intake.function.addEventSource(
      new sources.SqsEventSource(queues.intakeQueue, { ...sqsSourceOf(queueConsumers.intake) }),
    );

    this.dispatcher = coreFunction(this, 'Dispatcher', runtime, {
      entry: lambdaEntry('dispatcher'),
      description: 'Offpeak dispatcher: releases queued jobs to AWS Batch within concurrency limits',
      timeout: queueConsumers.dispatch.timeout,
      // Submits jobs; terminates one that was cancelled while it was being submitted.
      batch: { submit: true, terminate: true },
      // Plans chunks (HEAD/LIST/sample inputs, previous run manifests) and writes run and pack manifests.
      bucket: { read: [BucketPrefixes.inputs, BucketPrefixes.payloads], write: [BucketPrefixes.manifests] },
    });
    this.dispatcher.useQueue(EnvVars.dispatchQueueUrl, queues.dispatchQueue, 'consume');
    this.dispatcher.function.addEventSource(
      new sources.SqsEventSource(queues.dispatchQueue, {
        ...sqsSourceOf(queueConsumers.dispatch),
        maxConcurrency: queueConsumers.dispatch.maxConcurrency,
      }),
    );

    this.tracker = coreFunction(this, 'Tracker', runtime, {
      entry: lambdaEntry('tracker'),
      description: 'Offpeak tracker: applies AWS Batch job state changes',
      timeout: queueConsumers.events.timeout,
      // Ends chunk runs: asks Batch about a run's other array jobs, lists success markers and parts, reads pack
      // results and chunk errors, writes the result manifest.
      batch: { read: true },
      // Reads a failed attempt's retry marker and, for a final failure, its log tail (dead letter).
      bucket: {
        read: [BucketPrefixes.manifests, BucketPrefixes.checkpoints, BucketPrefixes.outputs],
        write: [BucketPrefixes.outputs],
      },
      jobLogs: true,
    });
    this.tracker.useQueue(EnvVars.eventsQueueUrl, queues.eventsQueue, 'consume');
    this.tracker.function.addEventSource(
      new sources.SqsEventSource(queues.eventsQueue, { ...sqsSourceOf(queueConsumers.events) }),
    );

    this.reconciler = coreFunction(this, 'Reconciler', runtime, {
      entry: lambdaEntry('reconciler'),
      description: 'Offpeak reconciler: repairs jobs stuck in a state from the store and AWS Batch',
      timeout: Duration.seconds(60),
      // Finds orphans by name (ListJobs) and checks stale jobs (DescribeJobs); terminates jobs stuck RUNNABLE
      // longer than their queue allows, or cancelled while being submitted.
      batch: { read: true, terminate: true },
      // Repairs stale chunk runs and applies lost state changes the way the tracker does (see its grants).
      bucket: {
        read: [BucketPrefixes.manifests, BucketPrefixes.checkpoints, BucketPrefixes.outputs],
        write: [BucketPrefixes.outputs],
      },
      jobLogs: true,
    });

    // One rule, two targets: both runs are idempotent, and a missed tick is made up by the next one.
    this.tickRule = new events.Rule(this, 'TickRule', {
      description: 'Offpeak: runs the dispatcher and the reconciler every minute',
      schedule: events.Schedule.rate(props.tickInterval ?? Duration.minutes(1)),
    });
    const targetOptions = {
      ...props.events.targetOptions(),
      retryAttempts: 0,
      maxEventAge: Duration.minutes(1),
    };
    this.tickRule.addTarget(new targets.LambdaFunction(this.dispatcher.function, targetOptions));
    this.tickRule.addTarget(new targets.LambdaFunction(this.reconciler.function, targetOptions));
    for (const fn of [this.dispatcher, this.reconciler]) {
      // An asynchronous retry of a tick would only overlap the next tick.
      fn.function.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(1) });
    }
  }
}

function sqsSourceOf(consumer: {
  batchSize: number;
  maxBatchingWindow: Duration;
}): sources.SqsEventSourceProps {
  return {
    batchSize: consumer.batchSize,
    maxBatchingWindow: consumer.maxBatchingWindow,
    reportBatchItemFailures: true,
  };
}
