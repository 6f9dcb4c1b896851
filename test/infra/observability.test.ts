import { Duration } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { exampleJobTypes } from '../../config/job-types.js';
import { defineJobType } from '../../src/core/job-type.js';
import { MetricName } from '../../src/core/observability/metrics.js';
import {
  type CfnResourceJson,
  refTarget,
  resourcesOf,
  type SynthesizedOffpeak,
  synthOffpeak,
} from './synth.js';

const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:oncall';
const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:hooks-AbCdEf';

// Prepare: the ready app plus a job type with notifications and its own thresholds (one synthesis).
let synth: SynthesizedOffpeak;
beforeAll(() => {
  synth = synthOffpeak({
    props: () => ({
      jobTypes: [
        ...exampleJobTypes,
        defineJobType({
          name: 'settle',
          image: 'busybox',
          command: ['settle'],
          params: z.object({}).strict(),
          monitoring: { expectedDurationSeconds: 900, failureRatePercent: 5, failureRateMinJobs: 3 },
          notifications: [
            { on: ['FAILED'], snsTopicArn: TOPIC },
            {
              on: ['SUCCEEDED', 'FAILED'],
              webhook: { url: 'https://hooks.example.com/offpeak', secretArn: SECRET },
            },
          ],
        }),
      ],
      monitoring: { maxQueueWait: { low: Duration.hours(6) }, dashboardUrl: 'https://offpeak.example.com' },
    }),
  });
});

function alarms(): [string, CfnResourceJson][] {
  return resourcesOf(synth.template, 'AWS::CloudWatch::Alarm');
}

function alarmByDescription(pattern: RegExp): CfnResourceJson {
  const found = alarms().filter(([, a]) => pattern.test(a.Properties.AlarmDescription));
  expect(found, String(pattern)).toHaveLength(1);
  return found[0]![1];
}

describe('alarms', () => {
  it('sends every alarm and its recovery to the alarm topic', () => {
    const topicId = resourcesOf(synth.template, 'AWS::SNS::Topic')[0]![0];
    expect(alarms().length).toBeGreaterThan(30);
    for (const [id, alarm] of alarms()) {
      expect(alarm.Properties.AlarmActions.map(refTarget), id).toEqual([topicId]);
      expect(alarm.Properties.OKActions.map(refTarget), id).toEqual([topicId]);
    }
  });

  it('alarms on the failure rate per job type with its own threshold, from the Offpeak namespace', () => {
    const settle = alarmByDescription(/more than 5% of settle jobs failed/);
    expect(settle.Properties.Threshold).toBe(5);
    const [expression, failed, succeeded] = settle.Properties.Metrics;
    expect(expression.Expression).toBe(
      'IF((failed + succeeded) >= 3, 100 * failed / (failed + succeeded), 0)',
    );
    expect(failed.MetricStat.Metric).toEqual({
      Namespace: 'Offpeak',
      MetricName: MetricName.JobsFailed,
      Dimensions: expect.arrayContaining([
        { Name: 'service', Value: 'offpeak' },
        { Name: 'JobType', Value: 'settle' },
      ]),
    });
    expect(succeeded.MetricStat.Metric.MetricName).toBe(MetricName.JobsSucceeded);
    expect(alarmByDescription(/more than 20% of hello jobs failed/).Properties.Threshold).toBe(20);
  });

  it('alarms on stragglers per job type, oldest waiting and stuck RUNNABLE per queue', () => {
    expect(
      alarmByDescription(/a settle job is running abnormally long \(expected ≤ 900 s\)/).Properties,
    ).toMatchObject({
      MetricName: MetricName.Stragglers,
      Namespace: 'Offpeak',
      Threshold: 0,
    });
    expect(alarmByDescription(/waited in queue low longer than 6 hours/).Properties).toMatchObject({
      MetricName: MetricName.OldestQueuedAge,
      Threshold: 21_600,
      Dimensions: expect.arrayContaining([{ Name: 'Queue', Value: 'low' }]),
    });
    expect(alarmByDescription(/waited in queue normal longer than 1 hour/).Properties.Threshold).toBe(3600);
    for (const queue of ['high', 'normal', 'low']) {
      expect(
        alarmByDescription(new RegExp(`jobs of queue ${queue} accepted by Batch but not started`)).Properties
          .MetricName,
      ).toBe(MetricName.JobsStuckRunnable);
    }
  });

  it('alarms on errors and throttles of every Offpeak Lambda, and on reconciler repairs', () => {
    for (const role of ['api', 'intake', 'dispatcher', 'tracker', 'reconciler', 'monitor', 'notifier']) {
      expect(alarmByDescription(new RegExp(`the ${role} Lambda failed`)).Properties).toMatchObject({
        MetricName: 'Errors',
        Namespace: 'AWS/Lambda',
      });
      expect(alarmByDescription(new RegExp(`the ${role} Lambda was throttled`)).Properties).toMatchObject({
        MetricName: 'Throttles',
      });
    }
    expect(alarmByDescription(/reconciler made more than 10 repairs/).Properties).toMatchObject({
      MetricName: MetricName.ReconcilerRepairs,
      Statistic: 'Sum',
      Period: 900,
    });
  });
});

describe('dashboard, monitor, logs and notifications', () => {
  it('has a CloudWatch dashboard over the Offpeak metrics, the queues, the Lambdas and the DLQs', () => {
    const [[, dashboard]] = resourcesOf(synth.template, 'AWS::CloudWatch::Dashboard') as [
      [string, CfnResourceJson],
    ];
    const body = JSON.stringify(synth.stack.resolve(dashboard.Properties.DashboardBody));
    for (const name of [
      MetricName.JobsSubmitted,
      MetricName.RunTime,
      MetricName.QueueWaitTime,
      MetricName.OldestQueuedAge,
      MetricName.Stragglers,
      MetricName.ChunksCompleted,
      MetricName.DeadLetters,
      MetricName.ReconcilerRepairs,
      'Errors',
      'Throttles',
      'ApproximateNumberOfMessagesVisible',
    ]) {
      expect(body, name).toContain(name);
    }
    expect(body).toContain('\\"Offpeak\\"');
    expect(body).toContain('Straggler');
    // Every alarm of the stack is on the dashboard's alarm widget, the dead-letter ones included.
    const alarmIds = resourcesOf(synth.template, 'AWS::CloudWatch::Alarm').map(([id]) => id);
    for (const id of alarmIds) expect(body, id).toContain(id);
  });

  it('runs the monitor every minute and lets the API read job logs', () => {
    const rule = resourcesOf(synth.template, 'AWS::Events::Rule').find(
      ([, r]) => r.Properties.ScheduleExpression === 'rate(1 minute)',
    )![1];
    expect(rule.Properties.Targets).toHaveLength(3);
    const api = resourcesOf(synth.template, 'AWS::Lambda::Function').find(
      ([, f]) => f.Properties.Description === 'Offpeak HTTP API',
    )![1];
    expect(Object.keys(api.Properties.Environment.Variables)).toContain('OFFPEAK_JOB_LOG_GROUPS');
    // Its own role's policies: GetLogEvents on the job log groups, DescribeJobs to find a chunk's log stream.
    const role = api.Properties.Role['Fn::GetAtt'][0] as string;
    const policies = JSON.stringify(
      resourcesOf(synth.template, 'AWS::IAM::Policy')
        .filter(([, p]) => (p.Properties.Roles ?? []).some((r: { Ref?: string }) => r.Ref === role))
        .map(([, p]) => p.Properties.PolicyDocument),
    );
    expect(policies).toContain('logs:GetLogEvents');
    expect(policies).toContain('batch:DescribeJobs');
  });

  it('routes job outcomes of types with notifications to the notifier, allowed to publish and read exactly its secrets', () => {
    // Event triggers (config/triggers.ts) also match job outcomes by type: pick the notifier's rule by its target.
    const notifierId = resourcesOf(synth.template, 'AWS::Lambda::Function').find(([id]) =>
      id.includes('Notifier'),
    )![0];
    const rule = resourcesOf(synth.template, 'AWS::Events::Rule').find(([, r]) =>
      JSON.stringify(r.Properties.Targets ?? []).includes(`"${notifierId}"`),
    )![1];
    expect(rule.Properties.EventPattern).toEqual({
      source: ['offpeak'],
      'detail-type': ['Job Succeeded', 'Job Failed', 'Job Cancelled', 'Job Skipped', 'Job Retrying'],
      detail: { type: ['settle'] },
    });
    expect(rule.Properties.Targets[0].DeadLetterConfig).toBeDefined();
    const statements = resourcesOf(synth.template, 'AWS::IAM::Policy').flatMap(
      ([, p]) => p.Properties.PolicyDocument.Statement,
    );
    expect(statements).toContainEqual(expect.objectContaining({ Action: 'sns:Publish', Resource: TOPIC }));
    expect(statements).toContainEqual(
      expect.objectContaining({ Action: 'secretsmanager:GetSecretValue', Resource: SECRET }),
    );
  });

  it('keeps cdk-nag at zero unacknowledged findings', () => {
    const report = new AwsSolutionsChecks().validateScope(synth.app);
    expect(
      report.violations.map(
        (v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(' ')}`,
      ),
    ).toEqual([]);
  });
});
