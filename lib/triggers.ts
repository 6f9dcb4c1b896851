import { Annotations, Duration, Stack, TimeZone } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { TriggerEnvVars } from '../src/aws/trigger-deps.js';
import type { CatalogData } from '../src/core/catalog.js';
import { uploadRulePattern } from '../src/core/triggers/rule-patterns.js';
import { declaredScheduleRecord, scheduleMessageTemplate } from '../src/core/triggers/schedule.js';
import { noTriggers } from '../src/core/triggers/trigger-config.js';
import { acknowledge, nagResourceName } from './nag.js';
import type { OffpeakFunction } from './offpeak-function.js';

/** Props of {@link OffpeakTriggers}. */
export interface OffpeakTriggersProps {
  /** The catalog with its triggers. */
  readonly catalog: CatalogData;
  /** Where every trigger delivers (submit requests and `{offpeakTrigger, event}` messages). */
  readonly intakeQueue: sqs.IQueue;
  /** The Offpeak bucket (upload triggers watch `inputs/` in it). */
  readonly bucket: s3.IBucket;
  /** Offpeak's bus (event triggers on `bus: 'offpeak'`). */
  readonly eventBus: events.IEventBus;
  /** Where EventBridge (rules and Scheduler) puts what it could not deliver; alarmed. */
  readonly deadLetterQueue: sqs.IQueue;
  /** The API Lambda: manages run-time schedules and verifies webhooks. */
  readonly api: OffpeakFunction;
  /** The intake Lambda: consumes the queues of queue triggers too. */
  readonly intake: OffpeakFunction;
  /** Scheduler's retries before a run goes to the DLQ. @default 185 (its maximum) */
  readonly retryAttempts?: number;
  /** How long Scheduler keeps retrying a run. @default Duration.hours(24) (its maximum) */
  readonly maxEventAge?: Duration;
}

/**
 * Triggers (docs/triggers.md): the Offpeak EventBridge Scheduler group with an execution role that may only send
 * to the intake queue and the DLQ, one schedule per declared schedule (templated SQS target straight into the intake
 * queue, retry policy, DLQ), a rule per upload trigger (S3 "Object Created" on the default bus) and per event trigger,
 * each sending `{offpeakTrigger, event}` to the intake queue, the queues of queue triggers as event sources of the
 * intake Lambda, and the API Lambda's rights to manage schedules in the group and read exactly the webhook secrets.
 */
export class OffpeakTriggers extends Construct {
  readonly scheduleGroup: scheduler.ScheduleGroup;
  /** The role EventBridge Scheduler assumes to deliver runs. */
  readonly schedulerRole: iam.Role;
  /** Declared schedule id → schedule. */
  readonly schedules: Readonly<Record<string, scheduler.Schedule>>;
  /** Upload and event trigger id → rule. */
  readonly rules: Readonly<Record<string, events.Rule>>;

  constructor(scope: Construct, id: string, props: OffpeakTriggersProps) {
    super(scope, id);
    const triggers = props.catalog.triggers ?? noTriggers;
    const stack = Stack.of(this);
    const retryAttempts = props.retryAttempts ?? 185;
    const maxEventAge = props.maxEventAge ?? Duration.hours(24);

    this.scheduleGroup = new scheduler.ScheduleGroup(this, 'ScheduleGroup', {});
    const schedulesInGroup = stack.formatArn({
      service: 'scheduler',
      resource: 'schedule',
      resourceName: `${this.scheduleGroup.scheduleGroupName}/*`,
    });
    this.schedulerRole = new iam.Role(this, 'SchedulerRole', {
      description: 'EventBridge Scheduler: deliver Offpeak schedule runs to the intake queue',
      // Only schedules of this account's Offpeak group may use it (confused-deputy protection).
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': schedulesInGroup },
        },
      }),
    });
    props.intakeQueue.grantSendMessages(this.schedulerRole);
    props.deadLetterQueue.grantSendMessages(this.schedulerRole);

    const schedules: Record<string, scheduler.Schedule> = {};
    for (const declaration of triggers.schedules) {
      const record = declaredScheduleRecord(declaration);
      schedules[declaration.id] = new scheduler.Schedule(this, `Schedule-${declaration.id}`, {
        scheduleName: declaration.id,
        scheduleGroup: this.scheduleGroup,
        description: declaration.description ?? `Offpeak: ${declaration.jobType}`,
        schedule: scheduler.ScheduleExpression.expression(record.expression, TimeZone.of(record.timezone)),
        enabled: record.enabled,
        target: new schedulerTargets.SqsSendMessage(props.intakeQueue, {
          role: this.schedulerRole,
          deadLetterQueue: props.deadLetterQueue,
          retryAttempts,
          maxEventAge,
          input: scheduler.ScheduleTargetInput.fromText(scheduleMessageTemplate(record)),
        }),
      });
    }
    this.schedules = schedules;

    // Run-time schedules (POST /schedules, runAt): the API Lambda manages them in the group, with this role.
    const api = props.api;
    api
      .addEnvironment(TriggerEnvVars.scheduleGroup, this.scheduleGroup.scheduleGroupName)
      .addEnvironment(TriggerEnvVars.schedulerRoleArn, this.schedulerRole.roleArn)
      .addEnvironment(TriggerEnvVars.intakeQueueArn, props.intakeQueue.queueArn)
      .addEnvironment(TriggerEnvVars.schedulerDeadLetterQueueArn, props.deadLetterQueue.queueArn);
    const schedulePolicy = new iam.Policy(this, 'ApiSchedulePolicy', {
      statements: [
        new iam.PolicyStatement({
          actions: [
            'scheduler:CreateSchedule',
            'scheduler:UpdateSchedule',
            'scheduler:DeleteSchedule',
            'scheduler:GetSchedule',
          ],
          resources: [schedulesInGroup],
        }),
        new iam.PolicyStatement({
          actions: ['iam:PassRole'],
          resources: [this.schedulerRole.roleArn],
          conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
        }),
      ],
    });
    schedulePolicy.attachToRole(api.role);
    acknowledge(
      schedulePolicy,
      `AwsSolutions-IAM5[Resource::${nagResourceName(this, schedulesInGroup)}]`,
      'Schedules created through the API get their names at run time; the API may manage schedules only inside ' +
        "Offpeak's own schedule group, and may pass only the Offpeak scheduler role.",
    );

    const secretArns = [...new Set(triggers.hooks.map((hook) => hook.secretArn))];
    if (secretArns.length > 0) {
      api.role.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: secretArns }),
      );
    }

    const rules: Record<string, events.Rule> = {};
    const deliver = (rule: events.Rule, triggerId: string) =>
      rule.addTarget(
        new targets.SqsQueue(props.intakeQueue, {
          deadLetterQueue: props.deadLetterQueue,
          retryAttempts,
          maxEventAge,
          message: new TriggerEventInput(triggerId),
        }),
      );
    if (triggers.uploads.length > 0) {
      if (!enableEventBridge(props.bucket)) {
        Annotations.of(this).addWarningV2(
          'offpeak:uploads-need-eventbridge',
          'Upload triggers need EventBridge notifications on the bucket: enable them on your imported bucket ' +
            '(S3 console → Properties → Amazon EventBridge → On).',
        );
      }
    }
    const defaultBus = events.EventBus.fromEventBusName(this, 'DefaultBus', 'default');
    for (const upload of triggers.uploads) {
      const rule = new events.Rule(this, `Upload-${upload.id}`, {
        description: `Offpeak upload trigger ${upload.id}: objects under inputs/${upload.prefix} → ${upload.jobType}`,
        eventBus: defaultBus,
        eventPattern: toCdkPattern(uploadRulePattern(upload, props.bucket.bucketName)),
      });
      deliver(rule, upload.id);
      rules[upload.id] = rule;
    }
    for (const trigger of triggers.events) {
      const rule = new events.Rule(this, `Event-${trigger.id}`, {
        description: `Offpeak event trigger ${trigger.id} → ${trigger.jobType}`,
        eventBus: trigger.bus === 'offpeak' ? props.eventBus : defaultBus,
        eventPattern: toCdkPattern(trigger.pattern),
      });
      deliver(rule, trigger.id);
      rules[trigger.id] = rule;
    }
    this.rules = rules;

    for (const trigger of triggers.queues) {
      const queue = sqs.Queue.fromQueueAttributes(this, `Queue-${trigger.id}`, {
        queueArn: trigger.queueArn,
        ...(trigger.encryptionKeyArn ? { keyArn: trigger.encryptionKeyArn } : {}),
      });
      props.intake.function.addEventSource(
        new sources.SqsEventSource(queue, {
          batchSize: trigger.batchSize,
          maxBatchingWindow: Duration.seconds(1),
          reportBatchItemFailures: true,
        }),
      );
    }
  }
}

/**
 * The input transformer every trigger rule uses: `{"offpeakTrigger": "<id>", "event": <the whole event>}`.
 * `<aws.events.event.json>` is EventBridge's own JSON of the matched event, inserted unquoted as a JSON value, so
 * object keys with quotes or backslashes arrive intact.
 */
class TriggerEventInput extends events.RuleTargetInput {
  constructor(private readonly triggerId: string) {
    super();
  }

  bind(): events.RuleTargetInputProperties {
    return {
      inputTemplate: `{"offpeakTrigger":${JSON.stringify(this.triggerId)},"event":<aws.events.event.json>}`,
    };
  }
}

/** EventBridge notifications on a bucket Offpeak created (no custom resource: CloudFormation's own property). */
function enableEventBridge(bucket: s3.IBucket): boolean {
  const cfn = bucket.node.defaultChild as s3.CfnBucket | undefined;
  if (!cfn || typeof cfn.addPropertyOverride !== 'function') return false;
  cfn.addPropertyOverride('NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled', true);
  return true;
}

/** Our JSON pattern (EventBridge's field names) as CDK's EventPattern (camel-cased top-level fields). */
function toCdkPattern(pattern: Readonly<Record<string, unknown>>): events.EventPattern {
  const renamed: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(pattern)) {
    renamed[key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] = value;
  }
  return renamed as events.EventPattern;
}
