import { z } from 'zod';
import type { Catalog } from '../catalog.js';
import { ValidationError } from '../errors.js';
import { derivedIdempotencyKey, IDEMPOTENCY_KEY_MAX } from '../idempotency.js';
import { isJobId } from '../ids.js';
import { InputRequestSchema, type IntakeMessage } from '../requests.js';
import { CatchUpPolicy, DEFAULT_CATCH_UP_LIMIT, MAX_CATCH_UP_LIMIT } from './catch-up.js';
import {
  type FireTimeContext,
  nextFireTime,
  parseScheduleExpression,
  type ScheduleExpression,
} from './schedule-expression.js';
import { type ScheduleDeclaration, TriggerIdSchema } from './trigger-config.js';
import { assertTimeZone } from './zoned-time.js';

/** Where a schedule comes from: declared in code, created through the API, or holding a `runAt` job. */
export const ScheduleOrigin = { Config: 'config', Api: 'api', RunAt: 'run-at' } as const;
export type ScheduleOrigin = (typeof ScheduleOrigin)[keyof typeof ScheduleOrigin];

/** Scheduler's placeholder for the time a run was due; substituted in the message locally too. */
export const SCHEDULED_TIME_PLACEHOLDER = '<aws.scheduler.scheduled-time>';

/** EventBridge Scheduler's limit on a target's Input. */
export const MAX_TARGET_INPUT = 8192;

/** A one-time schedule this far in the past is refused (an `at` time a little behind the clock still runs). */
export const PAST_GRACE_MS = 60_000;

const CatchUpSchema = z.enum([CatchUpPolicy.None, CatchUpPolicy.Latest, CatchUpPolicy.All]);

/** A schedule as stored (`api`, `run-at`) or declared (`config`), and as the API returns it. */
export const ScheduleRecordSchema = z
  .object({
    id: TriggerIdSchema,
    origin: z.enum([ScheduleOrigin.Config, ScheduleOrigin.Api, ScheduleOrigin.RunAt]),
    jobType: z.string().min(1).max(64),
    expression: z.string().min(1).max(256),
    timezone: z.string(),
    params: z.record(z.string(), z.unknown()),
    priority: z.number().int().min(0).max(1000).optional(),
    input: InputRequestSchema.optional(),
    dependsOn: z.array(z.string()).optional(),
    /** The key every run submits with (a `runAt` job's own key); otherwise derived from id and time. */
    idempotencyKey: z.string().max(IDEMPOTENCY_KEY_MAX).optional(),
    /** The id the held job will have (`run-at`). */
    jobId: z.string().optional(),
    enabled: z.boolean(),
    catchUp: CatchUpSchema,
    catchUpLimit: z.number().int().min(1).max(MAX_CATCH_UP_LIMIT),
    description: z.string().max(512).optional(),
    /** Who created it (the IAM caller), recorded as the actor of its jobs. */
    createdBy: z.string().max(2048).optional(),
    createdAt: z.string(),
    updatedAt: z.string(),
    version: z.number().int().min(0),
  })
  .strict();
export type ScheduleRecord = z.infer<typeof ScheduleRecordSchema>;

/** Body of `POST /schedules`. */
export const CreateScheduleRequestSchema = z
  .object({
    /** @default a generated `sch-…` id */
    id: TriggerIdSchema.optional(),
    jobType: z.string().min(1).max(64),
    expression: z.string().min(1).max(256),
    timezone: z.string().max(64).default('UTC'),
    params: z.record(z.string(), z.unknown()).default({}),
    priority: z.number().int().min(0).max(1000).optional(),
    enabled: z.boolean().default(true),
    catchUp: CatchUpSchema.optional(),
    catchUpLimit: z.number().int().min(1).max(MAX_CATCH_UP_LIMIT).default(DEFAULT_CATCH_UP_LIMIT),
    description: z.string().max(512).optional(),
  })
  .strict();
export type CreateScheduleRequest = z.infer<typeof CreateScheduleRequestSchema>;

/** Body of `PATCH /schedules/{id}`: pause (`enabled: false`), resume, or change what and when it runs. */
export const PatchScheduleRequestSchema = z
  .object({
    expression: z.string().min(1).max(256).optional(),
    timezone: z.string().max(64).optional(),
    params: z.record(z.string(), z.unknown()).optional(),
    priority: z.number().int().min(0).max(1000).optional(),
    enabled: z.boolean().optional(),
    catchUp: CatchUpSchema.optional(),
    catchUpLimit: z.number().int().min(1).max(MAX_CATCH_UP_LIMIT).optional(),
    description: z.string().max(512).optional(),
  })
  .strict()
  .refine((patch) => Object.keys(patch).length > 0, 'give at least one field to change');
export type PatchScheduleRequest = z.infer<typeof PatchScheduleRequestSchema>;

/** A declared schedule as a record (never stored: the catalog is its store). */
export function declaredScheduleRecord(declaration: ScheduleDeclaration): ScheduleRecord {
  const epoch = new Date(0).toISOString();
  return {
    id: declaration.id,
    origin: ScheduleOrigin.Config,
    jobType: declaration.jobType,
    expression: declaration.expression,
    timezone: declaration.timezone,
    params: declaration.params,
    ...(declaration.priority !== undefined ? { priority: declaration.priority } : {}),
    enabled: declaration.enabled,
    catchUp: declaration.catchUp ?? defaultCatchUp(declaration.expression),
    catchUpLimit: declaration.catchUpLimit,
    ...(declaration.description ? { description: declaration.description } : {}),
    // Declared rate schedules count their intervals from the Unix epoch locally (whole hours, days, …).
    createdAt: epoch,
    updatedAt: epoch,
    version: 0,
  };
}

/** `none` for recurring schedules; `latest` for one-time ones, whose only run must not be lost. */
export function defaultCatchUp(expression: string): CatchUpPolicy {
  return expression.trim().startsWith('at(') ? CatchUpPolicy.Latest : CatchUpPolicy.None;
}

/** The context fire times of a schedule are computed in. */
export function fireTimeContext(schedule: Pick<ScheduleRecord, 'timezone' | 'createdAt'>): FireTimeContext {
  return { timeZone: schedule.timezone, anchor: new Date(schedule.createdAt) };
}

/**
 * The intake message of one run: the same text EventBridge Scheduler sends (its Input with
 * `<aws.scheduler.scheduled-time>` substituted) and the local scheduler sends. The idempotency key is the schedule id
 * plus the scheduled time, so a duplicated firing makes one job.
 */
export function scheduleMessageTemplate(schedule: ScheduleRecord): string {
  const message: IntakeMessage = {
    type: schedule.jobType,
    params: schedule.params,
    ...(schedule.priority !== undefined ? { priority: schedule.priority } : {}),
    dependsOn: schedule.dependsOn ?? [],
    ...(schedule.input ? { input: schedule.input } : {}),
    idempotencyKey:
      schedule.idempotencyKey ?? derivedIdempotencyKey('schedule', schedule.id, SCHEDULED_TIME_PLACEHOLDER),
    // A runAt job came from the API; the schedule only held it.
    trigger: {
      ...(schedule.origin === ScheduleOrigin.RunAt
        ? { kind: 'api' as const, source: `POST /jobs (runAt, schedule/${schedule.id})` }
        : { kind: 'schedule' as const, source: `schedule/${schedule.id}` }),
      scheduledTime: SCHEDULED_TIME_PLACEHOLDER,
      ...(schedule.createdBy ? { actor: schedule.createdBy } : {}),
    },
  };
  return JSON.stringify(message);
}

/** The message of one run at `scheduledTime` (`2022-03-22T18:59:43Z`), as the intake queue receives it. */
export function scheduleMessage(
  schedule: ScheduleRecord,
  scheduledTime: string,
  catchUp = false,
): IntakeMessage {
  const text = scheduleMessageTemplate(schedule).replaceAll(SCHEDULED_TIME_PLACEHOLDER, scheduledTime);
  const message = JSON.parse(text) as IntakeMessage;
  return catchUp && message.trigger
    ? { ...message, trigger: { ...message.trigger, catchUp: true } }
    : message;
}

/** The state the API shows: `COMPLETED` once a one-time schedule's time has passed. */
export type ScheduleState = 'ENABLED' | 'DISABLED' | 'COMPLETED';

/** A schedule as `GET /schedules` returns it: the record, its state and its next run. */
export interface ScheduleView extends ScheduleRecord {
  readonly state: ScheduleState;
  readonly nextFireAt?: string;
}

export function scheduleView(schedule: ScheduleRecord, now: Date): ScheduleView {
  const expression = parseScheduleExpression(schedule.expression);
  const next = nextFireTime(expression, fireTimeContext(schedule), now);
  const state: ScheduleState =
    expression.kind === 'at' && !next ? 'COMPLETED' : schedule.enabled ? 'ENABLED' : 'DISABLED';
  return { ...schedule, state, ...(next && schedule.enabled ? { nextFireAt: next.toISOString() } : {}) };
}

/**
 * Checks what a schedule would run and when, before anything is stored: the expression, the time zone, the job
 * type and its params, that it fires at all (and a one-time time not in the past), and Scheduler's size limit.
 *
 * @returns the parsed expression
 * @throws ValidationError `InvalidScheduleExpression`, `UnknownTimeZone`, `UnknownJobType`, `InvalidParams`,
 *   `ScheduleInPast`, `ScheduleNeverFires`, `ScheduleTooLarge`
 */
export function validateSchedule(catalog: Catalog, schedule: ScheduleRecord, now: Date): ScheduleExpression {
  const expression = parseScheduleExpression(schedule.expression);
  assertTimeZone(schedule.timezone);
  catalog.jobType(schedule.jobType);
  catalog.validateParams(schedule.jobType, schedule.params);
  for (const id of schedule.dependsOn ?? []) {
    if (!isJobId(id)) throw new ValidationError('InvalidRequest', `dependsOn: "${id}" is not a job id`);
  }
  const context = fireTimeContext(schedule);
  const after = new Date(now.getTime() - (expression.kind === 'at' ? PAST_GRACE_MS : 0));
  if (!nextFireTime(expression, context, after)) {
    throw expression.kind === 'at'
      ? new ValidationError(
          'ScheduleInPast',
          `${schedule.expression} in ${schedule.timezone} is in the past (or does not exist in that time zone)`,
        )
      : new ValidationError(
          'ScheduleNeverFires',
          `${schedule.expression} never fires after ${now.toISOString()}`,
        );
  }
  const size = scheduleMessageTemplate(schedule).length;
  if (size > MAX_TARGET_INPUT) {
    throw new ValidationError(
      'ScheduleTooLarge',
      `The schedule's message is ${size} characters; EventBridge Scheduler allows ${MAX_TARGET_INPUT}: keep params small`,
    );
  }
  return expression;
}

/** How long a one-time schedule's record is kept after its time (then DynamoDB's TTL removes it). */
export const ONE_TIME_RETENTION_MS = 30 * 86_400_000;

/** When a stored schedule may be forgotten: a month after a one-time schedule's time; never for recurring ones. */
export function scheduleExpiry(schedule: ScheduleRecord): Date | undefined {
  const expression = parseScheduleExpression(schedule.expression);
  if (expression.kind !== 'at') return undefined;
  const at = nextFireTime(expression, fireTimeContext(schedule), new Date(0));
  return at ? new Date(at.getTime() + ONE_TIME_RETENTION_MS) : undefined;
}
