import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Clock } from '../core/clock.js';
import { NonRetryableError } from '../core/errors.js';
import type { TriggerDeps } from '../core/triggers/trigger-deps.js';
import type { ScheduleRegistry } from '../ports/schedule-registry.js';
import { DynamoScheduleStore } from './dynamo-schedule-store.js';
import { SchedulerRegistry } from './scheduler-registry.js';
import { SecretsManagerSource } from './secrets-manager-source.js';
import { EnvVars } from './table-schema.js';

/** Environment variables of the trigger adapters (set by the CDK construct on the API Lambda). */
export const TriggerEnvVars = {
  /** The Offpeak EventBridge Scheduler schedule group. */
  scheduleGroup: 'OFFPEAK_SCHEDULE_GROUP',
  /** The role Scheduler assumes to send to the intake queue. */
  schedulerRoleArn: 'OFFPEAK_SCHEDULER_ROLE_ARN',
  intakeQueueArn: 'OFFPEAK_INTAKE_QUEUE_ARN',
  /** Where Scheduler puts runs it could not deliver. */
  schedulerDeadLetterQueueArn: 'OFFPEAK_SCHEDULER_DLQ_ARN',
} as const;

export interface AwsTriggerClients {
  readonly documentClient: DynamoDBDocumentClient;
  readonly scheduler?: SchedulerClient;
  readonly secretsManager?: SecretsManagerClient;
}

/**
 * The trigger deps on AWS: schedules in the Offpeak table, EventBridge Scheduler as the registry (when the
 * function has the scheduler variables; the API Lambda does), Secrets Manager for webhook secrets.
 */
export function createAwsTriggerDeps(
  env: NodeJS.ProcessEnv,
  clients: AwsTriggerClients,
  clock?: Clock,
): TriggerDeps {
  const tableName = env[EnvVars.table];
  if (!tableName) throw new Error(`Invalid Offpeak environment:\n- ${EnvVars.table} is not set`);
  return {
    schedules: new DynamoScheduleStore({
      client: clients.documentClient,
      tableName,
      ...(clock ? { clock } : {}),
    }),
    registry: schedulerRegistryFromEnv(env, clients.scheduler),
    secrets: new SecretsManagerSource({
      client: clients.secretsManager ?? new SecretsManagerClient({}),
      ...(clock ? { clock } : {}),
    }),
  };
}

function schedulerRegistryFromEnv(
  env: NodeJS.ProcessEnv,
  client: SchedulerClient | undefined,
): ScheduleRegistry {
  const names = Object.values(TriggerEnvVars);
  const missing = names.filter((name) => !env[name]);
  if (missing.length > 0) {
    const refuse = async () => {
      throw new NonRetryableError(
        'SchedulerNotConfigured',
        `This function cannot manage schedules (${missing.join(', ')} not set)`,
      );
    };
    return { put: refuse, delete: refuse };
  }
  return new SchedulerRegistry({
    client: client ?? new SchedulerClient({}),
    groupName: env[TriggerEnvVars.scheduleGroup]!,
    roleArn: env[TriggerEnvVars.schedulerRoleArn]!,
    intakeQueueArn: env[TriggerEnvVars.intakeQueueArn]!,
    deadLetterQueueArn: env[TriggerEnvVars.schedulerDeadLetterQueueArn]!,
  });
}
