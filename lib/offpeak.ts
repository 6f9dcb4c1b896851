import { CfnOutput, type Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as batch from 'aws-cdk-lib/aws-batch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { CatalogData } from '../src/core/catalog.js';
import type { JobTypeDefinition } from '../src/core/job-type.js';
import type { QueueSpecInput } from '../src/core/queue-spec.js';
import type { ResourceSpecInput } from '../src/core/resource-spec.js';
import type { TriggersInput } from '../src/core/triggers/trigger-config.js';
import { OffpeakApi } from './api.js';
import { OffpeakCompute } from './compute.js';
import type { OffpeakRuntime } from './core-function.js';
import { OffpeakDeadLetters } from './dead-letters.js';
import { OffpeakEvents } from './events.js';
import { OffpeakMonitoring } from './monitoring.js';
import { type OffpeakMonitoringOptions, OffpeakObservability } from './observability.js';
import type { OffpeakFunction } from './offpeak-function.js';
import { OffpeakProcessing, queueConsumers } from './processing.js';
import { type DeadLetterQueue, OffpeakQueues } from './queues.js';
import { OffpeakState } from './state.js';
import { OffpeakTriggers } from './triggers.js';
import { validateOffpeakProps } from './validate-props.js';
import { OffpeakWebDashboard } from './web-dashboard.js';

/** Props of {@link Offpeak}. */
export interface OffpeakProps {
  /** The job types Offpeak runs (one Batch job definition each), declared with `defineJobType`. */
  readonly jobTypes: readonly JobTypeDefinition[];
  /**
   * The named queues jobs wait in (one Batch job queue each, with its distinct Batch priority).
   * @default defaultQueues (high, normal, low)
   */
  readonly queues?: readonly QueueSpecInput[];
  /**
   * Shared resources job types hold units of (`resources: { 'warehouse-db': 1 }` on a job type), each with a limit
   * (changeable at run time with `PATCH /resources/{name}`) and an optional rate limit.
   * @example [{ name: 'warehouse-db', limit: 2 }]
   * @default - none
   */
  readonly resources?: readonly ResourceSpecInput[];
  /**
   * The VPC Batch jobs run in (private subnets with a route to the registries and AWS APIs).
   * @default - a VPC with two AZs, one NAT gateway, an S3 gateway endpoint and flow logs
   */
  readonly vpc?: ec2.IVpc;
  /** Subnets of `vpc` jobs run in. @default - the private subnets with egress */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** Maximum vCPUs of each compute environment (Fargate and Fargate Spot). @default 256 */
  readonly maxVcpus?: number;
  /**
   * Queues that prefer on-demand Fargate over Fargate Spot; the others prefer Spot.
   * @default ['high']
   */
  readonly onDemandFirstQueues?: readonly string[];
  /**
   * Batch attempts per job for infrastructure failures (Spot reclaim, start failures); application failures are
   * retried by Offpeak with backoff, never by Batch.
   * @default 3
   */
  readonly infrastructureAttempts?: number;
  /**
   * Extra bucket prefixes a job type's role may write, beyond `outputs/` and `checkpoints/`.
   * @example { 'nightly-backup': ['backups/'] }
   * @default - none
   */
  readonly extraJobWritePrefixes?: Readonly<Record<string, readonly string[]>>;
  /** Email addresses that receive alarms (each confirms by email). @default - none */
  readonly alarmEmails?: readonly string[];
  /** Retention of every Offpeak log group (Lambdas, jobs, API access, flow logs). @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the table, buckets and log groups when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * An existing job table (with the schema of `src/aws/table-schema.ts`) instead of creating one.
   * @default - a table is created
   */
  readonly table?: dynamodb.ITable;
  /** An existing bucket instead of creating one. @default - a bucket and its access-log bucket are created */
  readonly bucket?: s3.IBucket;
  /** Encrypt the created bucket with this KMS key. @default - S3-managed encryption */
  readonly bucketEncryptionKey?: kms.IKey;
  /** How long job outputs and large params are kept in the bucket. @default Duration.days(90) */
  readonly outputRetention?: Duration;
  /** Receives of a message before it moves to its dead-letter queue. @default 5 */
  readonly maxReceiveCount?: number;
  /** Archive Offpeak's events for replay, for this long. @default - no archive */
  readonly eventArchiveRetention?: Duration;
  /**
   * Schedules, S3 uploads, webhooks, queues and events that submit jobs (docs/triggers.md), declared with
   * `defineTriggers`.
   * @default - none
   */
  readonly triggers?: TriggersInput;
  /**
   * How long an idempotency key returns the same job (a job type's own `idempotencyRetentionHours` wins).
   * @default Duration.days(7)
   */
  readonly idempotencyRetention?: Duration;
  /**
   * A job whose Batch job waits RUNNABLE (for compute) longer than this is repaired by the reconciler as
   * `runnableTimeoutAction` says. @default Duration.hours(1)
   */
  readonly runnableTimeout?: Duration;
  /**
   * `alert`: note it on the job and count the `ReconcilerRepairs` metric; `fail`: terminate the Batch job and fail
   * the attempt through the retry policy. @default 'alert'
   */
  readonly runnableTimeoutAction?: 'alert' | 'fail';
  /** Alarm thresholds and the dashboard URL (per job type thresholds are on the job type). @default - see each option */
  readonly monitoring?: OffpeakMonitoringOptions;
  /**
   * Host the web dashboard (S3 + CloudFront, Cognito sign-in, SigV4 to the API). `true`, or the WAF web ACL to put in
   * front of it. @default false
   */
  readonly webDashboard?: boolean | { readonly webAclId?: string };
}

/** The Offpeak Lambdas, by role. */
export interface OffpeakFunctions {
  readonly api: OffpeakFunction;
  readonly intake: OffpeakFunction;
  readonly dispatcher: OffpeakFunction;
  readonly tracker: OffpeakFunction;
  readonly reconciler: OffpeakFunction;
  /** Records every message of the dead-letter queues as a dead letter. */
  readonly deadLetters: OffpeakFunction;
}

/**
 * Offpeak: a serverless batch-job service on AWS Batch (design §1), as one construct to drop into a stack. Composes
 * one construct per concern: state (table, bucket), queues, compute (VPC, Batch), events, processing Lambdas, the
 * HTTP API and monitoring. Props are validated as a whole: every problem is reported in one error.
 *
 * @example
 * new Offpeak(stack, 'Batch', { jobTypes: [hello, nightlyBackup], alarmEmails: ['ops@example.com'] });
 */
export class Offpeak extends Construct {
  /** The validated catalog (job types and queues) bundled into the Lambdas. */
  readonly catalog: CatalogData;
  readonly table: dynamodb.ITable;
  readonly bucket: s3.IBucket;
  readonly api: OffpeakApi;
  readonly queues: OffpeakQueues;
  readonly eventBus: events.EventBus;
  readonly alarmTopic: sns.Topic;
  /** Offpeak queue name → Batch job queue. */
  readonly jobQueues: Readonly<Record<string, batch.JobQueue>>;
  /** Job type name → Batch job definition. */
  readonly jobDefinitions: Readonly<Record<string, batch.EcsJobDefinition>>;
  readonly functions: OffpeakFunctions;
  /** Every dead-letter queue (each is alarmed). */
  readonly deadLetterQueues: readonly DeadLetterQueue[];
  readonly state: OffpeakState;
  readonly compute: OffpeakCompute;
  readonly events: OffpeakEvents;
  readonly processing: OffpeakProcessing;
  readonly deadLetters: OffpeakDeadLetters;
  readonly monitoring: OffpeakMonitoring;
  /** Schedules, upload and event rules, queue triggers, webhook secrets. */
  readonly triggers: OffpeakTriggers;
  /** Metrics, alarms, the CloudWatch dashboard, job logs for the API, notifications. */
  readonly observability: OffpeakObservability;
  /** The hosted web dashboard, when `webDashboard` asks for it. */
  readonly webDashboard?: OffpeakWebDashboard;

  constructor(scope: Construct, id: string, props: OffpeakProps) {
    super(scope, id);
    this.catalog = validateOffpeakProps(props);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;

    this.state = new OffpeakState(this, 'State', {
      table: props.table,
      bucket: props.bucket,
      bucketEncryptionKey: props.bucketEncryptionKey,
      outputRetention: props.outputRetention,
      removalPolicy,
    });
    this.table = this.state.table;
    this.bucket = this.state.bucket;

    this.queues = new OffpeakQueues(this, 'Queues', {
      intakeConsumer: queueConsumers.intake,
      dispatchConsumer: queueConsumers.dispatch,
      eventsConsumer: queueConsumers.events,
      maxReceiveCount: props.maxReceiveCount,
    });

    this.compute = new OffpeakCompute(this, 'Compute', {
      catalog: this.catalog,
      bucket: this.bucket,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      maxVcpus: props.maxVcpus,
      onDemandFirstQueues: props.onDemandFirstQueues,
      infrastructureAttempts: props.infrastructureAttempts,
      extraJobWritePrefixes: props.extraJobWritePrefixes,
      logRetention,
      logRemovalPolicy: removalPolicy,
    });
    this.jobQueues = this.compute.jobQueues;
    this.jobDefinitions = this.compute.jobDefinitions;

    this.events = new OffpeakEvents(this, 'Events', {
      jobQueues: Object.values(this.jobQueues),
      eventsQueue: this.queues.eventsQueue,
      archiveRetention: props.eventArchiveRetention,
    });
    this.eventBus = this.events.eventBus;

    const runtime: OffpeakRuntime = {
      catalog: this.catalog,
      table: this.table,
      bucket: this.bucket,
      queues: this.queues,
      eventBus: this.eventBus,
      batch: { jobQueues: this.jobQueues, jobDefinitions: this.jobDefinitions },
      logRetention,
      logRemovalPolicy: removalPolicy,
      // Reliability (issue 6): dead letters keep the last log lines; deployment-wide settings.
      jobLogGroups: Object.fromEntries(
        Object.entries(this.compute.jobTypes).map(([name, jobType]) => [name, jobType.logGroup]),
      ),
      settings: {
        ...(props.idempotencyRetention
          ? { idempotencyRetentionHours: props.idempotencyRetention.toHours({ integral: false }) }
          : {}),
        ...(props.runnableTimeout ? { runnableTimeoutMs: props.runnableTimeout.toMilliseconds() } : {}),
        ...(props.runnableTimeoutAction ? { runnableTimeoutAction: props.runnableTimeoutAction } : {}),
      },
    };
    this.processing = new OffpeakProcessing(this, 'Processing', { runtime, events: this.events });
    this.api = new OffpeakApi(this, 'Api', { runtime });
    this.triggers = new OffpeakTriggers(this, 'Triggers', {
      catalog: this.catalog,
      intakeQueue: this.queues.intakeQueue,
      bucket: this.bucket,
      eventBus: this.eventBus,
      deadLetterQueue: this.events.targetDeadLetterQueue,
      api: this.api.handler,
      intake: this.processing.intake,
    });

    this.deadLetterQueues = [
      ...this.queues.deadLetterQueues,
      { name: 'eventbridge-targets', queue: this.events.targetDeadLetterQueue },
    ];
    this.deadLetters = new OffpeakDeadLetters(this, 'DeadLetters', {
      runtime,
      deadLetterQueues: this.deadLetterQueues,
    });
    this.functions = {
      api: this.api.handler,
      intake: this.processing.intake,
      dispatcher: this.processing.dispatcher,
      tracker: this.processing.tracker,
      reconciler: this.processing.reconciler,
      deadLetters: this.deadLetters.ingester,
    };
    this.monitoring = new OffpeakMonitoring(this, 'Monitoring', {
      deadLetterQueues: this.deadLetterQueues,
      alarmEmails: props.alarmEmails,
    });
    this.alarmTopic = this.monitoring.alarmTopic;
    this.observability = new OffpeakObservability(this, 'Observability', {
      runtime,
      catalog: this.catalog,
      functions: { ...this.functions },
      api: this.api.handler,
      alarmTopic: this.alarmTopic,
      tickRule: this.processing.tickRule,
      eventBus: this.eventBus,
      deadLetterQueue: this.events.targetDeadLetterQueue,
      deadLetterQueues: this.deadLetterQueues,
      otherAlarms: [
        ...Object.values(this.monitoring.deadLetterAlarms),
        this.monitoring.jobDeadLetterAlarm,
        this.monitoring.messageDeadLetterAlarm,
      ],
      options: props.monitoring,
    });
    if (props.webDashboard) {
      const webAclId = typeof props.webDashboard === 'object' ? props.webDashboard.webAclId : undefined;
      this.webDashboard = new OffpeakWebDashboard(this, 'WebDashboard', {
        httpApi: this.api.httpApi,
        apiUrl: this.api.url,
        removalPolicy,
        ...(webAclId ? { webAclId } : {}),
      });
    }

    this.output('ApiUrl', this.api.url, 'Offpeak HTTP API base URL (SigV4, IAM)');
    this.output('BucketName', this.bucket.bucketName, 'Offpeak bucket');
    this.output('TableName', this.table.tableName, 'Offpeak job table');
    this.output('EventBusName', this.eventBus.eventBusName, 'EventBridge bus with Offpeak job events');
    this.output('AlarmTopicArn', this.alarmTopic.topicArn, 'SNS topic of Offpeak alarms');
  }

  /** A stack output named `<construct id><name>` (e.g. `BatchApiUrl`), readable in `cdk deploy`'s output. */
  private output(name: string, value: string, description: string): void {
    const output = new CfnOutput(this, name, { value, description });
    output.overrideLogicalId(`${this.node.id.replace(/[^A-Za-z0-9]/g, '')}${name}`);
  }
}
