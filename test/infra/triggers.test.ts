import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { exampleTriggers } from '../../config/triggers.js';
import { TriggerEnvVars } from '../../src/aws/trigger-deps.js';
import { IntakeMessageSchema } from '../../src/core/requests.js';
import {
  type CfnResourceJson,
  refTarget,
  resourcesOf,
  type SynthesizedOffpeak,
  synthOffpeak,
} from './synth.js';

// Prepare: the ready app (it deploys the example triggers: a schedule, an upload trigger, a GitHub hook, an event
// trigger) once for the file.
let synth: SynthesizedOffpeak;
beforeAll(() => {
  synth = synthOffpeak();
});

const resources = () => synth.template.toJSON().Resources as Record<string, CfnResourceJson>;

function apiFunctionId(): string {
  return synth.stack.getLogicalId(synth.offpeak.api.handler.function.node.defaultChild as never);
}

/** Every policy statement attached to a role (inline policies and managed policies of the stack). */
function statementsOf(
  roleId: string,
): { Action: string | string[]; Resource: unknown; Condition?: unknown }[] {
  return resourcesOf(synth.template, 'AWS::IAM::Policy')
    .filter(([, p]) => (p.Properties.Roles ?? []).some((r: unknown) => refTarget(r) === roleId))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
}

describe('schedules', () => {
  it('puts declared schedules in the Offpeak group, into the intake queue directly, with retries and a DLQ', () => {
    const groupId = resourcesOf(synth.template, 'AWS::Scheduler::ScheduleGroup')[0]![0];
    const schedules = resourcesOf(synth.template, 'AWS::Scheduler::Schedule');
    expect(schedules).toHaveLength(exampleTriggers.schedules?.length ?? 0);
    const [, schedule] = schedules[0]!;
    const intakeId = synth.stack.getLogicalId(synth.offpeak.queues.intakeQueue.node.defaultChild as never);
    const dlqId = synth.stack.getLogicalId(
      synth.offpeak.events.targetDeadLetterQueue.node.defaultChild as never,
    );
    expect(schedule.Properties).toMatchObject({
      Name: 'nightly-backup',
      ScheduleExpression: 'cron(0 2 * * ? *)',
      ScheduleExpressionTimezone: 'Europe/Berlin',
      FlexibleTimeWindow: { Mode: 'OFF' },
      State: 'ENABLED',
      Target: { RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86_400 } },
    });
    expect(refTarget(schedule.Properties.GroupName) ?? schedule.Properties.GroupName).toBeDefined();
    expect(resources()[groupId]).toBeDefined();
    expect(refTarget(schedule.Properties.Target.Arn)).toBe(intakeId);
    expect(refTarget(schedule.Properties.Target.DeadLetterConfig.Arn)).toBe(dlqId);
    // No Lambda in between: the Input is the intake message, with Scheduler's placeholder for the scheduled time.
    const delivered = (schedule.Properties.Target.Input as string).replaceAll(
      '<aws.scheduler.scheduled-time>',
      '2026-11-24T01:00:00Z',
    );
    expect(IntakeMessageSchema.parse(JSON.parse(delivered))).toMatchObject({
      type: 'nightly-backup',
      idempotencyKey: 'schedule|nightly-backup|2026-11-24T01:00:00Z',
      trigger: { kind: 'schedule', scheduledTime: '2026-11-24T01:00:00Z' },
    });
  });

  it("lets only this account's Offpeak schedules assume the scheduler role, which may only send to intake and DLQ", () => {
    const roleId = refTarget(
      resourcesOf(synth.template, 'AWS::Scheduler::Schedule')[0]![1].Properties.Target.RoleArn,
    )!;
    const role = resources()[roleId]!;
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      expect.objectContaining({
        Principal: { Service: 'scheduler.amazonaws.com' },
        Condition: {
          StringEquals: { 'aws:SourceAccount': '123456789012' },
          ArnLike: { 'aws:SourceArn': expect.anything() },
        },
      }),
    ]);
    const statements = statementsOf(roleId);
    expect([...new Set(statements.flatMap((s) => [s.Action].flat()))].sort()).toEqual([
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:SendMessage',
    ]);
    const intakeId = synth.stack.getLogicalId(synth.offpeak.queues.intakeQueue.node.defaultChild as never);
    const dlqId = synth.stack.getLogicalId(
      synth.offpeak.events.targetDeadLetterQueue.node.defaultChild as never,
    );
    const targetsOfRole = statements.flatMap((s) => [s.Resource].flat().map(refTarget));
    expect(new Set(targetsOfRole)).toEqual(new Set([intakeId, dlqId]));
  });

  it('gives the API Lambda the scheduler settings, schedule rights in the group only, and PassRole for Scheduler only', () => {
    const api = resources()[apiFunctionId()]!;
    const env = api.Properties.Environment.Variables;
    for (const name of Object.values(TriggerEnvVars)) expect(env[name], name).toBeDefined();
    const apiRoleId = refTarget(api.Properties.Role)!;
    const statements = statementsOf(apiRoleId);
    const scheduling = statements.find((s) => [s.Action].flat().includes('scheduler:CreateSchedule'))!;
    expect([scheduling.Action].flat().sort()).toEqual([
      'scheduler:CreateSchedule',
      'scheduler:DeleteSchedule',
      'scheduler:GetSchedule',
      'scheduler:UpdateSchedule',
    ]);
    expect(JSON.stringify(scheduling.Resource)).toMatch(/:schedule\/.*\/\*/);
    const pass = statements.find((s) => s.Action === 'iam:PassRole')!;
    expect(pass.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } });
    expect(statements.find((s) => s.Action === 'secretsmanager:GetSecretValue')?.Resource).toBe(
      exampleTriggers.hooks?.[0]?.secretArn,
    );
    // Nothing else reaches Scheduler or Secrets Manager.
    const everything = statements.flatMap((s) => [s.Action].flat());
    expect(
      everything.filter((a) => a.startsWith('scheduler:') || a.startsWith('secretsmanager:')),
    ).toHaveLength(5);
  });
});

describe('S3 uploads and events', () => {
  it('turns on EventBridge notifications on the bucket (no custom resource) and routes uploads to intake', () => {
    const bucketId = synth.stack.getLogicalId(synth.offpeak.bucket.node.defaultChild as never);
    expect(resources()[bucketId]!.Properties.NotificationConfiguration).toEqual({
      EventBridgeConfiguration: { EventBridgeEnabled: true },
    });
    expect(resourcesOf(synth.template, 'Custom::S3BucketNotifications')).toEqual([]);
    synth.template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: 'default',
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: { bucket: { name: [{ Ref: bucketId }] }, object: { key: [{ prefix: 'inputs/hello/' }] } },
      },
      Targets: [
        Match.objectLike({
          InputTransformer: {
            InputTemplate: '{"offpeakTrigger":"hello-uploads","event":<aws.events.event.json>}',
          },
          RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86_400 },
        }),
      ],
    });
  });

  it('puts event triggers on the Offpeak bus, delivering into the intake queue with a DLQ', () => {
    const busId = synth.stack.getLogicalId(synth.offpeak.eventBus.node.defaultChild as never);
    const intakeId = synth.stack.getLogicalId(synth.offpeak.queues.intakeQueue.node.defaultChild as never);
    const rule = resourcesOf(synth.template, 'AWS::Events::Rule').find(([, r]) =>
      r.Properties.Targets?.[0]?.InputTransformer?.InputTemplate?.includes('after-nightly-backup'),
    )![1];
    expect(refTarget(rule.Properties.EventBusName)).toBe(busId);
    expect(rule.Properties.EventPattern).toEqual({
      source: ['offpeak'],
      'detail-type': ['Job Succeeded'],
      detail: { type: ['nightly-backup'] },
    });
    expect(refTarget(rule.Properties.Targets[0].Arn)).toBe(intakeId);
    expect(rule.Properties.Targets[0].DeadLetterConfig).toBeDefined();
  });
});

describe('webhooks and the other routes', () => {
  it('serves POST /hooks/{hookId} without IAM authorization and every other route with it', () => {
    const routes = resourcesOf(synth.template, 'AWS::ApiGatewayV2::Route');
    const byKey = Object.fromEntries(
      routes.map(([, r]) => [r.Properties.RouteKey, r.Properties.AuthorizationType]),
    );
    expect(byKey['POST /hooks/{hookId}']).toBe('NONE');
    const others = Object.entries(byKey).filter(([key]) => key !== 'POST /hooks/{hookId}');
    expect(others.length).toBeGreaterThanOrEqual(10);
    for (const [key, type] of others) expect(type, key).toBe('AWS_IAM');
  });
});

describe('queue triggers', () => {
  it("consume the named queue with the intake Lambda, reporting batch item failures, with its key's Decrypt", () => {
    const queueArn = 'arn:aws:sqs:eu-west-1:123456789012:orders';
    const keyArn = 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555';
    const { template, stack, offpeak } = synthOffpeak({
      props: () => ({
        triggers: {
          queues: [{ id: 'orders', jobType: 'hello', queueArn, batchSize: 5, encryptionKeyArn: keyArn }],
        },
      }),
    });
    const intakeId = stack.getLogicalId(offpeak.processing.intake.function.node.defaultChild as never);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: queueArn,
      FunctionName: { Ref: intakeId },
      BatchSize: 5,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    const roleId = refTarget(template.toJSON().Resources[intakeId].Properties.Role)!;
    const statements = resourcesOf(template, 'AWS::IAM::Policy')
      .filter(([, p]) => (p.Properties.Roles ?? []).some((r: unknown) => refTarget(r) === roleId))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage']),
        Resource: expect.arrayContaining([queueArn]),
      }),
    );
    expect(statements).toContainEqual(expect.objectContaining({ Action: 'kms:Decrypt', Resource: keyArn }));
  });
});

describe('triggers in props', () => {
  it('reports triggers that name unknown job types or bad expressions as props errors', () => {
    expect(() =>
      synthOffpeak({
        props: () => ({
          triggers: {
            schedules: [{ id: 's', jobType: 'ghost', expression: 'cron(0 2 * * * *)' }],
            hooks: [{ id: 's', provider: 'github', secretArn: 'arn:nope', jobType: 'hello' }],
          },
        }),
      }),
    ).toThrow(/unknown job type "ghost"[\s\S]*|secretArn/);
  });
});
