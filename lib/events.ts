import { Duration, Stack } from 'aws-cdk-lib';
import type * as batch from 'aws-cdk-lib/aws-batch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledge } from './nag.js';
import { DEAD_LETTER_RETENTION, DEAD_LETTER_VISIBILITY_TIMEOUT } from './queues.js';

/** Props of {@link OffpeakEvents}. */
export interface OffpeakEventsProps {
  /** Batch job queues whose job state changes Offpeak tracks (only these: other Batch users are ignored). */
  readonly jobQueues: readonly batch.IJobQueue[];
  /** Where Batch job state changes are delivered (consumed by the tracker). */
  readonly eventsQueue: sqs.IQueue;
  /**
   * Archive Offpeak's own events for replay, for this long.
   * @default - no archive
   */
  readonly archiveRetention?: Duration;
}

/**
 * Events in and out of Offpeak: the custom bus where Offpeak publishes `Job Succeeded`, `Job Failed`, … for users to
 * subscribe to (optionally archived), and the rule that routes AWS Batch "Batch Job State Change" events of
 * Offpeak's job queues (from the default bus) to the events queue. EventBridge delivery failures of every Offpeak
 * rule land in one dead-letter queue.
 */
export class OffpeakEvents extends Construct {
  readonly eventBus: events.EventBus;
  readonly archive?: events.Archive;
  /** The rule matching Batch job state changes of Offpeak's job queues. */
  readonly batchStateRule: events.Rule;
  /** Dead-letter queue for events EventBridge could not deliver to an Offpeak target. */
  readonly targetDeadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: OffpeakEventsProps) {
    super(scope, id);
    this.eventBus = new events.EventBus(this, 'Bus', {
      description: 'Offpeak job events (Job Succeeded, Job Failed, …)',
    });
    if (props.archiveRetention) {
      this.archive = this.eventBus.archive('Archive', {
        description: 'Offpeak job events, for replay',
        eventPattern: { account: [Stack.of(this).account] },
        retention: props.archiveRetention,
      });
    }

    this.targetDeadLetterQueue = new sqs.Queue(this, 'TargetDeadLetterQueue', {
      retentionPeriod: DEAD_LETTER_RETENTION,
      visibilityTimeout: DEAD_LETTER_VISIBILITY_TIMEOUT,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    acknowledge(
      this.targetDeadLetterQueue,
      'AwsSolutions-SQS3',
      'This queue is the dead-letter queue of EventBridge rule targets (not of another SQS queue, which is what the ' +
        'rule looks for); it is alarmed like every other Offpeak DLQ.',
    );

    this.batchStateRule = new events.Rule(this, 'BatchJobStateRule', {
      description: 'AWS Batch job state changes of Offpeak job queues, to the tracker',
      eventPattern: {
        source: ['aws.batch'],
        detailType: ['Batch Job State Change'],
        detail: { jobQueue: props.jobQueues.map((queue) => queue.jobQueueArn) },
      },
    });
    this.batchStateRule.addTarget(new targets.SqsQueue(props.eventsQueue, this.targetOptions()));
  }

  /** Target options every Offpeak EventBridge target uses: retries for a day, then the shared DLQ. */
  targetOptions(): targets.TargetBaseProps {
    return {
      deadLetterQueue: this.targetDeadLetterQueue,
      retryAttempts: 185,
      maxEventAge: Duration.hours(24),
    };
  }
}
