import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import {
  METRICS_NAMESPACE,
  MetricDimension,
  MetricName,
  SERVICE_DIMENSION,
} from '../src/core/observability/metrics.js';
import type { DeadLetterQueue } from './queues.js';

/** Props of {@link OffpeakMonitoring}. */
export interface OffpeakMonitoringProps {
  /** Every dead-letter queue to alarm on. */
  readonly deadLetterQueues: readonly DeadLetterQueue[];
  /** Email addresses subscribed to the alarm topic (each confirms by email). @default - no subscriptions */
  readonly alarmEmails?: readonly string[];
}

/**
 * Alerts (design §7): an encrypted, TLS-only SNS topic, optionally with email subscriptions, and an alarm on every
 * dead-letter queue as soon as it holds a message.
 */
export class OffpeakMonitoring extends Construct {
  readonly alarmTopic: sns.Topic;
  /** The key encrypting the topic (CloudWatch may use it to publish alarms). */
  readonly topicKey: kms.Key;
  /** DLQ name → its alarm. */
  readonly deadLetterAlarms: Readonly<Record<string, cloudwatch.Alarm>>;
  /** Fires when a job lands in the dead letters (it failed its last attempt): metric `DeadLetters`, kind `job`. */
  readonly jobDeadLetterAlarm: cloudwatch.Alarm;
  /** Fires when a message is recorded as a dead letter (poison, or past maxReceiveCount): kind `message`. */
  readonly messageDeadLetterAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: OffpeakMonitoringProps) {
    super(scope, id);
    // A customer-managed key: CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key.
    this.topicKey = new kms.Key(this, 'TopicKey', {
      description: 'Offpeak alarm topic encryption',
      enableKeyRotation: true,
    });
    this.topicKey.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'Offpeak alarms',
      masterKey: this.topicKey,
      enforceSSL: true,
    });
    // The TLS-only statement makes CDK write a topic policy, which replaces SNS's default one (that let the account's
    // services publish): allow CloudWatch alarms of this account explicitly.
    const stack = Stack.of(this);
    this.alarmTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarms',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': stack.formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    for (const email of props.alarmEmails ?? []) {
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(email));
    }

    const alarmAction = new actions.SnsAction(this.alarmTopic);
    const alarms: Record<string, cloudwatch.Alarm> = {};
    for (const { name, queue } of props.deadLetterQueues) {
      const alarm = queue
        .metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' })
        .createAlarm(this, `DeadLetters-${name}`, {
          alarmDescription: `Offpeak: messages in the ${name} dead-letter queue (inspect, fix, redrive)`,
          threshold: 0,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        });
      alarm.addAlarmAction(alarmAction);
      alarm.addOkAction(alarmAction);
      alarms[name] = alarm;
    }
    this.deadLetterAlarms = alarms;

    // Dead letters recorded in the table (issue 6): the DLQ alarms above only see messages the ingester has not
    // drained yet, and jobs never pass through a DLQ.
    const deadLetterAlarm = (kind: 'job' | 'message', what: string) => {
      const alarm = new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: MetricName.DeadLetters,
        dimensionsMap: { ...SERVICE_DIMENSION, [MetricDimension.Kind]: kind },
        statistic: 'Sum',
        period: Duration.minutes(1),
      }).createAlarm(this, `DeadLetters-${kind}`, {
        alarmDescription: `Offpeak: ${what} (GET /dead-letters?kind=${kind}; fix, then POST /dead-letters/redrive)`,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(alarmAction);
      alarm.addOkAction(alarmAction);
      return alarm;
    };
    this.jobDeadLetterAlarm = deadLetterAlarm('job', 'a job failed its last attempt and was dead-lettered');
    this.messageDeadLetterAlarm = deadLetterAlarm(
      'message',
      'a message no consumer could handle was dead-lettered',
    );
  }
}
