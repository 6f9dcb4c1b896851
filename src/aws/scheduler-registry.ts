import {
  ConflictException,
  CreateScheduleCommand,
  type CreateScheduleCommandInput,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  type SchedulerClient,
  ServiceQuotaExceededException,
  ThrottlingException,
  UpdateScheduleCommand,
  ValidationException,
} from '@aws-sdk/client-scheduler';
import { RetryableError, ValidationError } from '../core/errors.js';
import { type ScheduleRecord, scheduleMessageTemplate } from '../core/triggers/schedule.js';
import { parseScheduleExpression } from '../core/triggers/schedule-expression.js';
import type { ScheduleRegistry } from '../ports/schedule-registry.js';

export interface SchedulerRegistryOptions {
  readonly client: SchedulerClient;
  /** The Offpeak schedule group. */
  readonly groupName: string;
  /** The role Scheduler assumes to send to the intake queue (and to the DLQ). */
  readonly roleArn: string;
  readonly intakeQueueArn: string;
  /** Where Scheduler puts messages it could not deliver. */
  readonly deadLetterQueueArn: string;
  /** @default 185 (Scheduler's maximum) */
  readonly maximumRetryAttempts?: number;
  /** @default 86_400 (a day, Scheduler's maximum) */
  readonly maximumEventAgeInSeconds?: number;
}

/**
 * The ScheduleRegistry on EventBridge Scheduler: one schedule per record in the Offpeak group, sending the run's
 * intake message straight to the intake queue (templated SQS target, no Lambda), with a retry policy and a DLQ.
 * One-time (`at`) schedules delete themselves after they run.
 */
export class SchedulerRegistry implements ScheduleRegistry {
  readonly #client: SchedulerClient;
  readonly #options: SchedulerRegistryOptions;

  constructor(options: SchedulerRegistryOptions) {
    this.#client = options.client;
    this.#options = options;
  }

  async put(schedule: ScheduleRecord): Promise<void> {
    const input = this.input(schedule);
    try {
      await this.#client.send(new CreateScheduleCommand(input));
    } catch (error) {
      if (!(error instanceof ConflictException)) throw translate(error, schedule);
      // It exists: UpdateSchedule replaces the whole definition with the same fields.
      try {
        await this.#client.send(new UpdateScheduleCommand(input));
      } catch (updateError) {
        throw translate(updateError, schedule);
      }
    }
  }

  async delete(id: string): Promise<void> {
    try {
      await this.#client.send(new DeleteScheduleCommand({ Name: id, GroupName: this.#options.groupName }));
    } catch (error) {
      // Deleted already: a one-time schedule deletes itself after it runs.
      if (error instanceof ResourceNotFoundException) return;
      throw translate(error);
    }
  }

  /** The CreateSchedule/UpdateSchedule input of a record. */
  input(schedule: ScheduleRecord): CreateScheduleCommandInput {
    const oneTime = parseScheduleExpression(schedule.expression).kind === 'at';
    return {
      Name: schedule.id,
      GroupName: this.#options.groupName,
      ScheduleExpression: schedule.expression,
      ScheduleExpressionTimezone: schedule.timezone,
      State: schedule.enabled ? 'ENABLED' : 'DISABLED',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ...(schedule.description ? { Description: schedule.description.slice(0, 512) } : {}),
      ActionAfterCompletion: oneTime ? 'DELETE' : 'NONE',
      Target: {
        Arn: this.#options.intakeQueueArn,
        RoleArn: this.#options.roleArn,
        Input: scheduleMessageTemplate(schedule),
        RetryPolicy: {
          MaximumRetryAttempts: this.#options.maximumRetryAttempts ?? 185,
          MaximumEventAgeInSeconds: this.#options.maximumEventAgeInSeconds ?? 86_400,
        },
        DeadLetterConfig: { Arn: this.#options.deadLetterQueueArn },
      },
    };
  }
}

/** Scheduler's refusals as Offpeak errors: its validation is a 400, throttling and quotas are retryable. */
function translate(error: unknown, schedule?: ScheduleRecord): unknown {
  if (error instanceof ValidationException) {
    return new ValidationError(
      'ScheduleRejected',
      `EventBridge Scheduler refused the schedule${schedule ? ` "${schedule.id}"` : ''}: ${error.message}`,
      { cause: error },
    );
  }
  if (error instanceof ThrottlingException || error instanceof ServiceQuotaExceededException) {
    return new RetryableError('SchedulerUnavailable', `EventBridge Scheduler: ${error.message}`, {
      cause: error,
    });
  }
  return error;
}
