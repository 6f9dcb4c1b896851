import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  SchedulerClient,
  ThrottlingException,
  UpdateScheduleCommand,
  ValidationException,
} from '@aws-sdk/client-scheduler';
import {
  GetSecretValueCommand,
  ResourceNotFoundException as SecretNotFound,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { SchedulerRegistry } from '../../src/aws/scheduler-registry.js';
import { SecretsManagerSource } from '../../src/aws/secrets-manager-source.js';
import { IntakeMessageSchema } from '../../src/core/requests.js';
import { makeSchedule } from '../support/schedule-store-contract.js';

const scheduler = mockClient(SchedulerClient);
const secrets = mockClient(SecretsManagerClient);
const meta = { $metadata: {} };

const registry = new SchedulerRegistry({
  client: new SchedulerClient({ region: 'eu-west-1', maxAttempts: 1 }),
  groupName: 'offpeak-group',
  roleArn: 'arn:aws:iam::123456789012:role/offpeak-scheduler',
  intakeQueueArn: 'arn:aws:sqs:eu-west-1:123456789012:offpeak-intake',
  deadLetterQueueArn: 'arn:aws:sqs:eu-west-1:123456789012:offpeak-targets-dlq',
});

beforeEach(() => {
  scheduler.reset();
  secrets.reset();
});

describe('SchedulerRegistry (EventBridge Scheduler)', () => {
  it('creates a schedule in the group targeting the intake queue with the templated message, retries and a DLQ', async () => {
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn', ...meta });
    await registry.put(
      makeSchedule({ timezone: 'Europe/Berlin', expression: 'cron(0 2 * * ? *)', enabled: false }),
    );
    const input = scheduler.commandCalls(CreateScheduleCommand)[0]!.args[0].input;
    expect(input).toMatchObject({
      Name: 'hourly',
      GroupName: 'offpeak-group',
      ScheduleExpression: 'cron(0 2 * * ? *)',
      ScheduleExpressionTimezone: 'Europe/Berlin',
      State: 'DISABLED',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'NONE',
      Target: {
        Arn: 'arn:aws:sqs:eu-west-1:123456789012:offpeak-intake',
        RoleArn: 'arn:aws:iam::123456789012:role/offpeak-scheduler',
        RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86_400 },
        DeadLetterConfig: { Arn: 'arn:aws:sqs:eu-west-1:123456789012:offpeak-targets-dlq' },
      },
    });
    // What Scheduler delivers (the context attribute substituted) is a valid intake message.
    const delivered = input.Target!.Input!.replaceAll(
      '<aws.scheduler.scheduled-time>',
      '2022-03-22T18:59:43Z',
    );
    expect(IntakeMessageSchema.parse(JSON.parse(delivered))).toMatchObject({
      type: 'hello',
      idempotencyKey: 'schedule|hourly|2022-03-22T18:59:43Z',
      trigger: { kind: 'schedule', scheduledTime: '2022-03-22T18:59:43Z' },
    });
  });

  it('deletes one-time schedules after they run, and updates a schedule that exists', async () => {
    scheduler
      .on(CreateScheduleCommand)
      .rejects(new ConflictException({ message: 'exists', Message: 'exists', ...meta }));
    scheduler.on(UpdateScheduleCommand).resolves({ ScheduleArn: 'arn', ...meta });
    await registry.put(makeSchedule({ expression: 'at(2026-12-24T18:00:00)' }));
    const update = scheduler.commandCalls(UpdateScheduleCommand)[0]!.args[0].input;
    expect(update).toMatchObject({ Name: 'hourly', ActionAfterCompletion: 'DELETE', State: 'ENABLED' });
  });

  it('turns Scheduler validation into a 400 and throttling into a retryable error', async () => {
    scheduler
      .on(CreateScheduleCommand)
      .rejectsOnce(new ValidationException({ message: 'bad cron', Message: 'bad cron', ...meta }));
    await expect(registry.put(makeSchedule())).rejects.toMatchObject({
      code: 'ScheduleRejected',
      kind: 'validation',
    });
    scheduler
      .on(CreateScheduleCommand)
      .rejects(new ThrottlingException({ message: 'slow down', Message: 'slow down', ...meta }));
    await expect(registry.put(makeSchedule())).rejects.toMatchObject({
      code: 'SchedulerUnavailable',
      kind: 'retryable',
    });
  });

  it('deletes idempotently', async () => {
    scheduler
      .on(DeleteScheduleCommand)
      .rejects(new ResourceNotFoundException({ message: 'gone', Message: 'gone', ...meta }));
    await expect(registry.delete('hourly')).resolves.toBeUndefined();
    expect(scheduler.commandCalls(DeleteScheduleCommand)[0]!.args[0].input).toEqual({
      Name: 'hourly',
      GroupName: 'offpeak-group',
    });
  });
});

describe('SecretsManagerSource', () => {
  const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:hook-AbCdEf';

  it('reads a secret once per TTL, plain or as {"secret": …}', async () => {
    let now = 0;
    const source = new SecretsManagerSource({
      client: new SecretsManagerClient({ region: 'eu-west-1' }),
      ttlMs: 1000,
      clock: { now: () => new Date(now) },
    });
    secrets
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: 'plain', ...meta })
      .resolves({
        SecretString: '{"secret":"rotated"}',
        ...meta,
      });
    expect(await source.getSecret(arn)).toBe('plain');
    expect(await source.getSecret(arn)).toBe('plain');
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    now = 1500;
    expect(await source.getSecret(arn)).toBe('rotated');
    expect(secrets.commandCalls(GetSecretValueCommand)[0]!.args[0].input).toEqual({ SecretId: arn });
  });

  it('reports a missing secret as non-retryable, other failures as retryable', async () => {
    const source = new SecretsManagerSource({ client: new SecretsManagerClient({ region: 'eu-west-1' }) });
    secrets.on(GetSecretValueCommand).rejectsOnce(new SecretNotFound({ message: 'no', ...meta }));
    await expect(source.getSecret(arn)).rejects.toMatchObject({
      code: 'SecretNotFound',
      kind: 'non-retryable',
    });
    secrets.on(GetSecretValueCommand).rejectsOnce(new Error('network'));
    await expect(source.getSecret(arn)).rejects.toMatchObject({
      code: 'SecretUnavailable',
      kind: 'retryable',
    });
  });
});
