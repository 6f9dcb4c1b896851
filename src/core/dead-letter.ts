import { z } from 'zod';
import type { SerializedError } from './errors.js';
import { AttemptSchema, type Job, StateChangeSchema, TriggerSchema } from './job.js';
import { jobStates } from './job-state.js';

/** What ended up dead: a job that failed for good, or a message no consumer could handle. */
export const DeadLetterKind = { Job: 'job', Message: 'message' } as const;
export type DeadLetterKind = (typeof DeadLetterKind)[keyof typeof DeadLetterKind];

/** Open until redriven; redriven records are kept (for a while) as the trace of what was done. */
export const DeadLetterStatus = { Open: 'open', Redriven: 'redriven' } as const;
export type DeadLetterStatus = (typeof DeadLetterStatus)[keyof typeof DeadLetterStatus];

/**
 * The queues whose messages can be dead-lettered, by role: Offpeak's three work queues, and EventBridge's target
 * dead-letter queue (events a rule could not deliver).
 */
export const MessageSource = {
  Intake: 'intake',
  Dispatch: 'dispatch',
  Events: 'events',
  EventBridge: 'eventbridge',
} as const;
export type MessageSource = (typeof MessageSource)[keyof typeof MessageSource];

/** The work queues a dead message can be sent back to. */
export type RedriveTarget = Exclude<MessageSource, 'eventbridge'>;

const SerializedErrorSchema: z.ZodType<SerializedError> = z.lazy(() =>
  z.object({
    name: z.string(),
    message: z.string(),
    code: z.string().optional(),
    cause: SerializedErrorSchema.optional(),
  }),
);

/** What a job dead letter keeps of the job: enough to understand and act on the failure without the job item. */
export const DeadJobSchema = z.object({
  state: z.enum(jobStates as [Job['state'], ...Job['state'][]]),
  queue: z.string(),
  attempt: z.number().int(),
  maxAttempts: z.number().int(),
  params: z.record(z.string(), z.unknown()),
  /** Absent when the params were too large to copy (read them from the job). */
  paramsTruncated: z.boolean().optional(),
  trigger: TriggerSchema,
  idempotencyKey: z.string().optional(),
  exitCode: z.number().int().optional(),
  statusReason: z.string().optional(),
  error: SerializedErrorSchema.optional(),
  attempts: z.array(AttemptSchema),
  history: z.array(StateChangeSchema),
  createdAt: z.string(),
  finishedAt: z.string().optional(),
});
export type DeadJob = z.infer<typeof DeadJobSchema>;

/** The original message of a message dead letter, as the queue delivered it. */
export const DeadMessageSchema = z.object({
  source: z.enum(['intake', 'dispatch', 'events', 'eventbridge']),
  /** The queue a redrive sends it to (absent: not redrivable, e.g. a missed schedule tick). */
  redriveTo: z.enum(['intake', 'dispatch', 'events']).optional(),
  messageId: z.string(),
  /** The body exactly as received (not necessarily JSON). */
  body: z.string(),
  /** SQS system attributes (ApproximateReceiveCount, SentTimestamp, …). */
  attributes: z.record(z.string(), z.string()).default({}),
  /** String message attributes (EventBridge puts ERROR_CODE, ERROR_MESSAGE, RULE_ARN, TARGET_ARN here). */
  messageAttributes: z.record(z.string(), z.string()).default({}),
  receiveCount: z.number().int().min(0).optional(),
});
export type DeadMessage = z.infer<typeof DeadMessageSchema>;

/** How a dead letter was redriven. */
export const DeadLetterRedriveSchema = z.object({
  at: z.string(),
  actor: z.string().max(2048).optional(),
  /** Job dead letters: the first attempt of the new attempt series. */
  attempt: z.number().int().optional(),
  /** Message dead letters: the queue the message was sent back to. */
  queue: z.string().optional(),
});
export type DeadLetterRedrive = z.infer<typeof DeadLetterRedriveSchema>;

/** A dead letter: a job that failed its last attempt, or a message that failed its queue's maxReceiveCount. */
export const DeadLetterSchema = z.object({
  id: z.string(),
  kind: z.enum(['job', 'message']),
  status: z.enum(['open', 'redriven']),
  /** When it died (ISO): the job's finishedAt, or when the message was dead-lettered. */
  createdAt: z.string(),
  /** Job type: of the job, or named by the message when it names one. */
  type: z.string().optional(),
  jobId: z.string().optional(),
  /** One line saying why, for lists and alarms. */
  reason: z.string(),
  error: SerializedErrorSchema.optional(),
  job: DeadJobSchema.optional(),
  /** The last lines of the failed attempt's log (oldest first). */
  logLines: z.array(z.string()).optional(),
  /** Why the log lines are missing, when they are. */
  logError: z.string().optional(),
  message: DeadMessageSchema.optional(),
  redrive: DeadLetterRedriveSchema.optional(),
  updatedAt: z.string(),
  version: z.number().int().min(0),
});
export type DeadLetter = z.infer<typeof DeadLetterSchema>;

/** Dead-letter ids: `job-<jobId>-<attempt>` or `msg-<message id>`, deterministic so recording twice is a no-op. */
export const DeadLetterIdSchema = z
  .string()
  .regex(/^(job|msg)-[A-Za-z0-9-]{1,128}$/, 'a dead-letter id (job-<jobId>-<attempt> or msg-<messageId>)');

/** The id of the dead letter of a job that ended FAILED after `attempt`. */
export function jobDeadLetterId(jobId: string, attempt: number): string {
  return `job-${jobId}-${attempt}`;
}

/** The id of the dead letter of a message (its SQS message id, which survives the move to the DLQ). */
export function messageDeadLetterId(messageId: string): string {
  const safe = messageId.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 128);
  return `msg-${safe || 'unknown'}`;
}

/** At most this many log lines are copied into a dead letter. */
export const DEAD_LETTER_LOG_LINES = 50;
/** Each copied log line is cut to this many characters. */
export const DEAD_LETTER_LOG_LINE_MAX = 1000;
/** Params larger than this (as JSON) are not copied into a job dead letter (DynamoDB items are ≤ 400 KB). */
export const DEAD_LETTER_PARAMS_MAX_BYTES = 128 * 1024;
/** Message bodies larger than this are cut (SQS bodies are ≤ 256 KiB, so this only guards the item size). */
export const DEAD_LETTER_BODY_MAX_BYTES = 260 * 1024;

/** The list view: everything but the bulky parts (params, history, log lines, message body). */
export interface DeadLetterSummary {
  readonly id: string;
  readonly kind: DeadLetterKind;
  readonly status: DeadLetterStatus;
  readonly createdAt: string;
  readonly type?: string;
  readonly jobId?: string;
  readonly reason: string;
  readonly attempt?: number;
  readonly maxAttempts?: number;
  readonly exitCode?: number;
  readonly source?: MessageSource;
  readonly redriveTo?: RedriveTarget;
  readonly messageId?: string;
  /** The first 200 characters of a message body. */
  readonly bodyPreview?: string;
  readonly redrive?: DeadLetterRedrive;
}

export function summarizeDeadLetter(record: DeadLetter): DeadLetterSummary {
  return {
    id: record.id,
    kind: record.kind,
    status: record.status,
    createdAt: record.createdAt,
    ...(record.type !== undefined ? { type: record.type } : {}),
    ...(record.jobId !== undefined ? { jobId: record.jobId } : {}),
    reason: record.reason,
    ...(record.job
      ? {
          attempt: record.job.attempt,
          maxAttempts: record.job.maxAttempts,
          ...(record.job.exitCode !== undefined ? { exitCode: record.job.exitCode } : {}),
        }
      : {}),
    ...(record.message
      ? {
          source: record.message.source,
          ...(record.message.redriveTo ? { redriveTo: record.message.redriveTo } : {}),
          messageId: record.message.messageId,
          bodyPreview: record.message.body.slice(0, 200),
        }
      : {}),
    ...(record.redrive ? { redrive: record.redrive } : {}),
  };
}
