import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { EnvVars } from '../src/aws/table-schema.js';
import type { CatalogData } from '../src/core/catalog.js';
import {
  METRICS_NAMESPACE,
  MetricDimension,
  MetricName,
  SERVICE_DIMENSION,
} from '../src/core/observability/metrics.js';
import { monitoringDefaults } from '../src/core/observability/monitoring-spec.js';
import { coreFunction, type OffpeakRuntime } from './core-function.js';
import type { OffpeakFunction } from './offpeak-function.js';
import { lambdaEntry } from './paths.js';

/** Monitoring settings of the whole stack (per job type ones live on the job type's `monitoring`). */
export interface OffpeakMonitoringOptions {
  /** Alarm when a queue's oldest waiting job has waited longer than this, per queue name. @default Duration.hours(1) for every queue */
  readonly maxQueueWait?: Duration | Readonly<Record<string, Duration>>;
  /** A job accepted by Batch but not started (RUNNABLE) for longer than this is stuck. @default Duration.minutes(30) */
  readonly stuckRunnableAfter?: Duration;
  /** Alarm when one 15-minute window has more reconciler repairs than this. @default 10 */
  readonly reconcilerRepairsThreshold?: number;
  /** Base URL of the web dashboard, for links in notifications. @default - links name the CLI command instead */
  readonly dashboardUrl?: string;
}

/** Props of {@link OffpeakObservability}. */
export interface OffpeakObservabilityProps {
  readonly runtime: OffpeakRuntime;
  readonly catalog: CatalogData;
  /** The Lambdas whose errors and throttles are alarmed, by role. */
  readonly functions: Readonly<Record<string, OffpeakFunction>>;
  /** The API Lambda: its notification links and job views name the dashboard. */
  readonly api: OffpeakFunction;
  readonly alarmTopic: sns.ITopic;
  /** The one-minute schedule the monitor joins. */
  readonly tickRule: events.Rule;
  /** The event bus job outcome events are published on (notifications). */
  readonly eventBus: events.IEventBus;
  /** Where undeliverable notification events go (alarmed with the other DLQs). */
  readonly deadLetterQueue: sqs.IQueue;
  /** Dead-letter queues, shown on the dashboard. */
  readonly deadLetterQueues: readonly { readonly name: string; readonly queue: sqs.IQueue }[];
  /** Alarms made elsewhere (dead-letter queues, dead letters) to show on the dashboard with these. @default none */
  readonly otherAlarms?: readonly cloudwatch.IAlarm[];
  readonly options?: OffpeakMonitoringOptions;
}

/**
 * What people and pagers see (design §7): the monitor Lambda on the one-minute schedule (queue depth, oldest
 * waiting age, stuck jobs and stragglers as metrics), the API's access to job logs, the notifier for job types with
 * `notifications`, alarms to the alarm topic (failure rate and stragglers per job type, oldest waiting and stuck
 * jobs per queue, Lambda errors and throttles, reconciler repairs), and a CloudWatch dashboard.
 */
export class OffpeakObservability extends Construct {
  readonly monitor: OffpeakFunction;
  readonly notifier?: OffpeakFunction;
  readonly dashboard: cloudwatch.Dashboard;
  /** Every alarm this construct made, by a readable key (`failure-rate-hello`, `oldest-queued-normal`, …). */
  readonly alarms: Readonly<Record<string, cloudwatch.Alarm>>;

  constructor(scope: Construct, id: string, props: OffpeakObservabilityProps) {
    super(scope, id);
    const { runtime, catalog } = props;
    const options = props.options ?? {};
    const stuckAfter = options.stuckRunnableAfter ?? Duration.minutes(30);

    this.monitor = coreFunction(this, 'Monitor', runtime, {
      entry: lambdaEntry('monitor'),
      description: 'Offpeak monitor: queue depth, oldest waiting, stuck jobs and stragglers as metrics',
      timeout: Duration.seconds(60),
    });
    this.monitor.addEnvironment('OFFPEAK_STUCK_RUNNABLE_SECONDS', String(stuckAfter.toSeconds()));
    props.tickRule.addTarget(
      new targets.LambdaFunction(this.monitor.function, {
        retryAttempts: 0,
        maxEventAge: Duration.minutes(1),
      }),
    );
    this.monitor.function.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(1) });

    if (options.dashboardUrl) props.api.addEnvironment(EnvVars.dashboardUrl, options.dashboardUrl);

    this.notifier = this.createNotifier(props, options);

    const action = new actions.SnsAction(props.alarmTopic);
    const alarms: Record<string, cloudwatch.Alarm> = {};
    const alarm = (
      key: string,
      metric: cloudwatch.IMetric,
      config: Omit<cloudwatch.AlarmProps, 'metric'>,
    ) => {
      const created = new cloudwatch.Alarm(this, `Alarm-${key}`, { ...config, metric });
      created.addAlarmAction(action);
      created.addOkAction(action);
      alarms[key] = created;
      return created;
    };
    const offpeakMetric = (
      name: string,
      dimensions: Record<string, string>,
      statistic: string,
      period = Duration.minutes(1),
    ) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: name,
        dimensionsMap: { ...SERVICE_DIMENSION, ...dimensions },
        statistic,
        period,
      });

    for (const type of catalog.jobTypes) {
      const spec = type.monitoring ?? {};
      if (spec.alarms === false) continue;
      const byType = { [MetricDimension.JobType]: type.name };
      const percent = spec.failureRatePercent ?? monitoringDefaults.failureRatePercent;
      const minJobs = spec.failureRateMinJobs ?? monitoringDefaults.failureRateMinJobs;
      const period = Duration.minutes(15);
      alarm(
        `failure-rate-${type.name}`,
        new cloudwatch.MathExpression({
          expression: `IF((failed + succeeded) >= ${minJobs}, 100 * failed / (failed + succeeded), 0)`,
          usingMetrics: {
            failed: offpeakMetric(MetricName.JobsFailed, byType, 'Sum', period),
            succeeded: offpeakMetric(MetricName.JobsSucceeded, byType, 'Sum', period),
          },
          period,
          label: `${type.name} failure rate (%)`,
        }),
        {
          alarmDescription: `Offpeak: more than ${percent}% of ${type.name} jobs failed in 15 minutes (at least ${minJobs} finished)`,
          threshold: percent,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        },
      );
      alarm(`stragglers-${type.name}`, offpeakMetric(MetricName.Stragglers, byType, 'Maximum'), {
        alarmDescription:
          `Offpeak: a ${type.name} job is running abnormally long` +
          (spec.expectedDurationSeconds
            ? ` (expected ≤ ${spec.expectedDurationSeconds} s)`
            : ' (well beyond its recent p95)') +
          '; see the dashboard or the monitor log ("Straggler")',
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 2,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }

    for (const queue of catalog.queues) {
      const byQueue = { [MetricDimension.Queue]: queue.name };
      const maxWait =
        options.maxQueueWait === undefined
          ? Duration.hours(1)
          : options.maxQueueWait instanceof Duration
            ? options.maxQueueWait
            : (options.maxQueueWait[queue.name] ?? Duration.hours(1));
      alarm(`oldest-queued-${queue.name}`, offpeakMetric(MetricName.OldestQueuedAge, byQueue, 'Maximum'), {
        alarmDescription: `Offpeak: a job has waited in queue ${queue.name} longer than ${maxWait.toHumanString()}`,
        threshold: maxWait.toSeconds(),
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm(`stuck-runnable-${queue.name}`, offpeakMetric(MetricName.JobsStuckRunnable, byQueue, 'Maximum'), {
        alarmDescription: `Offpeak: jobs of queue ${queue.name} accepted by Batch but not started for over ${stuckAfter.toHumanString()} (RUNNABLE: capacity, image or subnet problem?)`,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }

    const functions = {
      ...props.functions,
      monitor: this.monitor,
      ...(this.notifier ? { notifier: this.notifier } : {}),
    };
    for (const [role, fn] of Object.entries(functions)) {
      alarm(`errors-${role}`, fn.function.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }), {
        alarmDescription: `Offpeak: the ${role} Lambda failed (see its log group)`,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm(
        `throttles-${role}`,
        fn.function.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum' }),
        {
          alarmDescription: `Offpeak: the ${role} Lambda was throttled (account concurrency?)`,
          threshold: 0,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        },
      );
    }
    const repairs = options.reconcilerRepairsThreshold ?? 10;
    alarm(
      'reconciler-repairs',
      offpeakMetric(MetricName.ReconcilerRepairs, {}, 'Sum', Duration.minutes(15)),
      {
        alarmDescription: `Offpeak: the reconciler made more than ${repairs} repairs in 15 minutes (lost messages, crashes, or jobs Batch forgot)`,
        threshold: repairs,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
    );
    this.alarms = alarms;

    this.dashboard = this.createDashboard(props, functions, offpeakMetric);
  }

  private createNotifier(
    props: OffpeakObservabilityProps,
    options: OffpeakMonitoringOptions,
  ): OffpeakFunction | undefined {
    const rules = props.catalog.jobTypes.flatMap((t) =>
      (t.notifications ?? []).map((rule) => ({ type: t.name, rule })),
    );
    if (rules.length === 0) return undefined;
    const notifier = coreFunction(this, 'Notifier', props.runtime, {
      entry: lambdaEntry('notifier'),
      description: 'Offpeak notifier: job outcomes to SNS topics and signed webhooks',
      timeout: Duration.seconds(30),
    });
    if (options.dashboardUrl) notifier.addEnvironment(EnvVars.dashboardUrl, options.dashboardUrl);
    const topics = [...new Set(rules.flatMap(({ rule }) => (rule.snsTopicArn ? [rule.snsTopicArn] : [])))];
    const secrets = [
      ...new Set(rules.flatMap(({ rule }) => (rule.webhook?.secretArn ? [rule.webhook.secretArn] : []))),
    ];
    if (topics.length > 0)
      notifier.role.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['sns:Publish'], resources: topics }),
      );
    if (secrets.length > 0) {
      notifier.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['secretsmanager:GetSecretValue'],
          // A partial ARN (no random suffix) matches the secret's versions of its name only.
          resources: secrets.map((arn) => (/-[A-Za-z0-9]{6}$/.test(arn) ? arn : `${arn}-??????`)),
        }),
      );
    }
    notifier.function.configureAsyncInvoke({
      retryAttempts: 2,
      onFailure: new destinations.SqsDestination(props.deadLetterQueue),
    });
    new events.Rule(this, 'NotifyRule', {
      description: 'Offpeak: job outcomes of job types with notifications, to the notifier',
      eventBus: props.eventBus,
      eventPattern: {
        source: ['offpeak'],
        detailType: ['Job Succeeded', 'Job Failed', 'Job Cancelled', 'Job Skipped', 'Job Retrying'],
        detail: { type: [...new Set(rules.map((r) => r.type))] },
      },
      targets: [
        new targets.LambdaFunction(notifier.function, {
          deadLetterQueue: props.deadLetterQueue,
          retryAttempts: 4,
          maxEventAge: Duration.hours(2),
        }),
      ],
    });
    return notifier;
  }

  private createDashboard(
    props: OffpeakObservabilityProps,
    functions: Readonly<Record<string, OffpeakFunction>>,
    metric: (
      name: string,
      dimensions: Record<string, string>,
      statistic: string,
      period?: Duration,
    ) => cloudwatch.Metric,
  ): cloudwatch.Dashboard {
    const types = props.catalog.jobTypes.map((t) => t.name);
    const queues = props.catalog.queues.map((q) => q.name);
    const byType = (name: string, statistic: string) =>
      types.map((t) =>
        metric(name, { [MetricDimension.JobType]: t }, statistic, Duration.minutes(5)).with({ label: t }),
      );
    const byQueue = (name: string, statistic: string) =>
      queues.map((q) => metric(name, { [MetricDimension.Queue]: q }, statistic).with({ label: q }));
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `Offpeak-${Stack.of(this).stackName}`.slice(0, 255),
      defaultInterval: Duration.hours(6),
    });
    const graph = (title: string, left: cloudwatch.IMetric[], width = 8) =>
      new cloudwatch.GraphWidget({ title, left, width, height: 6 });
    dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarms',
        alarms: [...(props.otherAlarms ?? []), ...Object.values(this.alarms)],
        width: 24,
        height: 4,
      }),
    );
    dashboard.addWidgets(
      graph('Jobs submitted', byType(MetricName.JobsSubmitted, 'Sum')),
      graph('Jobs succeeded', byType(MetricName.JobsSucceeded, 'Sum')),
      graph('Jobs failed (dead-lettered)', byType(MetricName.JobsFailed, 'Sum')),
    );
    dashboard.addWidgets(
      graph('Retries', byType(MetricName.JobsRetried, 'Sum')),
      graph('Run time p95 (s)', byType(MetricName.RunTime, 'p95')),
      graph('Queue wait p95 (s)', byType(MetricName.QueueWaitTime, 'p95')),
    );
    dashboard.addWidgets(
      graph('Queue depth', byQueue(MetricName.QueueDepth, 'Maximum')),
      graph('Oldest waiting job (s)', byQueue(MetricName.OldestQueuedAge, 'Maximum')),
      graph('Stuck RUNNABLE', byQueue(MetricName.JobsStuckRunnable, 'Maximum')),
    );
    dashboard.addWidgets(
      graph('Stragglers', [
        metric(MetricName.Stragglers, {}, 'Maximum').with({ label: 'all types' }),
        ...byType(MetricName.Stragglers, 'Maximum'),
      ]),
      graph('Chunks completed', byType(MetricName.ChunksCompleted, 'Sum')),
      graph('Reconciler repairs', [metric(MetricName.ReconcilerRepairs, {}, 'Sum', Duration.minutes(5))]),
    );
    dashboard.addWidgets(
      graph(
        'Lambda errors',
        Object.entries(functions).map(([role, fn]) =>
          fn.function.metricErrors({ label: role, period: Duration.minutes(5) }),
        ),
      ),
      graph(
        'Lambda throttles',
        Object.entries(functions).map(([role, fn]) =>
          fn.function.metricThrottles({ label: role, period: Duration.minutes(5) }),
        ),
      ),
      graph('Dead letters', [
        ...(['job', 'message'] as const).map((kind) =>
          metric(MetricName.DeadLetters, { [MetricDimension.Kind]: kind }, 'Sum', Duration.minutes(5)).with({
            label: `new ${kind} dead letters`,
          }),
        ),
        ...props.deadLetterQueues.map(({ name, queue }) =>
          queue.metricApproximateNumberOfMessagesVisible({
            label: `${name} DLQ`,
            period: Duration.minutes(1),
            statistic: 'Maximum',
          }),
        ),
      ]),
    );
    dashboard.addWidgets(
      new cloudwatch.LogQueryWidget({
        title: 'Stragglers and failures (monitor and tracker logs)',
        logGroupNames: [
          this.monitor.logGroup.logGroupName,
          ...(functions.tracker ? [functions.tracker.logGroup.logGroupName] : []),
        ],
        queryLines: [
          'fields @timestamp, level, message, jobId, type, runningSeconds, to',
          'filter message like /Straggler/ or to = "FAILED"',
          'sort @timestamp desc',
          'limit 50',
        ],
        width: 24,
        height: 6,
      }),
    );
    return dashboard;
  }
}
