import { Duration } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** How a queue's Lambda consumer runs: its visibility timeout is derived from this. */
export interface QueueConsumer {
  /** The consuming function's timeout. */
  readonly timeout: Duration;
  /** The event source's batching window. @default Duration.seconds(0) */
  readonly maxBatchingWindow?: Duration;
}

/** Props of {@link OffpeakQueues}. */
export interface OffpeakQueuesProps {
  /** Consumer of the intake queue (submit requests from triggers without a Lambda of their own). */
  readonly intakeConsumer: QueueConsumer;
  /** Consumer of the dispatch queue (nudges and retry releases). */
  readonly dispatchConsumer: QueueConsumer;
  /** Consumer of the events queue (Batch job state changes). */
  readonly eventsConsumer: QueueConsumer;
  /** Receives before a message moves to its dead-letter queue. @default 5 */
  readonly maxReceiveCount?: number;
}

/** A dead-letter queue and what it catches, for alarms and the dashboard. */
export interface DeadLetterQueue {
  /** Short name (`intake`, `dispatch`, `events`, …). */
  readonly name: string;
  readonly queue: sqs.IQueue;
}

/** Retention of every dead-letter queue: SQS's maximum, so a weekend outage loses nothing. */
export const DEAD_LETTER_RETENTION = Duration.days(14);

/** How the dead-letter ingester consumes each DLQ (lambdas/dead-letters.ts). */
export const deadLetterConsumer = {
  timeout: Duration.seconds(30),
  maxBatchingWindow: Duration.seconds(5),
} as const satisfies QueueConsumer;

/** Visibility timeout of every dead-letter queue, for its consumer, the dead-letter ingester. */
export const DEAD_LETTER_VISIBILITY_TIMEOUT = visibilityTimeoutFor(deadLetterConsumer);

/**
 * Lambda's guidance for SQS event sources: visibility timeout at least six times the function timeout (plus the
 * batching window), so a message is not redelivered while a throttled or retried invocation still holds it.
 */
export function visibilityTimeoutFor(consumer: QueueConsumer): Duration {
  return Duration.seconds(consumer.timeout.toSeconds() * 6 + (consumer.maxBatchingWindow?.toSeconds() ?? 0));
}

/**
 * Offpeak's SQS queues (intake, dispatch, events), each with its own dead-letter queue; SQS-managed encryption
 * and TLS-only policies on all of them.
 */
export class OffpeakQueues extends Construct {
  readonly intakeQueue: sqs.Queue;
  readonly dispatchQueue: sqs.Queue;
  readonly eventsQueue: sqs.Queue;
  /** The dead-letter queue of each queue above. */
  readonly deadLetterQueues: readonly DeadLetterQueue[];

  constructor(scope: Construct, id: string, props: OffpeakQueuesProps) {
    super(scope, id);
    const maxReceiveCount = props.maxReceiveCount ?? 5;
    const dlqs: DeadLetterQueue[] = [];
    const queueWithDlq = (name: string, constructId: string, consumer: QueueConsumer): sqs.Queue => {
      const dlq = new sqs.Queue(this, `${constructId}DeadLetterQueue`, {
        retentionPeriod: DEAD_LETTER_RETENTION,
        // The dead-letter ingester consumes every DLQ.
        visibilityTimeout: DEAD_LETTER_VISIBILITY_TIMEOUT,
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
      });
      dlqs.push({ name, queue: dlq });
      return new sqs.Queue(this, `${constructId}Queue`, {
        visibilityTimeout: visibilityTimeoutFor(consumer),
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        deadLetterQueue: { queue: dlq, maxReceiveCount },
      });
    };
    this.intakeQueue = queueWithDlq('intake', 'Intake', props.intakeConsumer);
    this.dispatchQueue = queueWithDlq('dispatch', 'Dispatch', props.dispatchConsumer);
    this.eventsQueue = queueWithDlq('events', 'Events', props.eventsConsumer);
    this.deadLetterQueues = dlqs;
  }
}
