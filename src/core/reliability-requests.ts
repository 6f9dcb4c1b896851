import { z } from 'zod';
import { DeadLetterIdSchema } from './dead-letter.js';
import { IDEMPOTENCY_KEY_MAX } from './idempotency.js';
import { JobTypeNameSchema } from './job-type.js';

/** Requests of the reliability routes: dead letters, redrive, retry, idempotency keys. */

const isoTime = z.iso.datetime({ offset: true }).transform((value) => new Date(value));

/** Query of `GET /dead-letters`. */
export const ListDeadLettersRequestSchema = z
  .object({
    /** `open` (default): still dead; `redriven`: sent back, kept for a while as a trace. */
    status: z.enum(['open', 'redriven']).default('open'),
    kind: z.enum(['job', 'message']).optional(),
    /** The job type (of a job dead letter, or named by a message). */
    type: z.string().min(1).max(64).optional(),
    /** Dead at or after this time (ISO 8601). */
    from: isoTime.optional(),
    /** Dead before this time (ISO 8601). */
    to: isoTime.optional(),
    limit: z.coerce.number().int().min(1).max(100).default(25),
    cursor: z.string().min(1).max(2048).optional(),
  })
  .strict()
  .refine((q) => !q.from || !q.to || q.from < q.to, {
    message: '`from` must be before `to`',
    path: ['from'],
  });
export type ListDeadLettersRequest = z.infer<typeof ListDeadLettersRequestSchema>;

/**
 * Body of `POST /dead-letters/redrive`: either `ids`, or a filter (`type`, `kind`, `from`, `to`; `all: true` for
 * every open dead letter), never both, never neither — a redrive of everything must be asked for in so many words.
 */
export const RedriveRequestSchema = z
  .object({
    ids: z.array(DeadLetterIdSchema).min(1).max(100).optional(),
    all: z.literal(true).optional(),
    kind: z.enum(['job', 'message']).optional(),
    type: z.string().min(1).max(64).optional(),
    from: isoTime.optional(),
    to: isoTime.optional(),
    /** Filter mode: at most this many in one call (the answer says whether `more` match). */
    limit: z.number().int().min(1).max(500).default(100),
  })
  .strict()
  .superRefine((body, ctx) => {
    const filtered =
      body.all !== undefined ||
      body.kind !== undefined ||
      body.type !== undefined ||
      body.from !== undefined ||
      body.to !== undefined;
    if (body.ids && filtered) {
      ctx.addIssue({
        code: 'custom',
        message: 'give either ids or a filter (type, kind, from, to, all), not both',
        path: ['ids'],
      });
    }
    if (!body.ids && !filtered) {
      ctx.addIssue({
        code: 'custom',
        message: 'say what to redrive: ids, a filter (type, kind, from, to), or all: true',
        path: [],
      });
    }
    if (body.from && body.to && body.from >= body.to) {
      ctx.addIssue({ code: 'custom', message: '`from` must be before `to`', path: ['from'] });
    }
  });
export type RedriveRequest = z.infer<typeof RedriveRequestSchema>;

/** Body of `POST /jobs/{id}/retry` (optional; a chunked job runs only its failed chunks either way). */
export const RetryRequestSchema = z
  .object({
    /** Why (recorded in the job's history). */
    reason: z.string().min(1).max(500).optional(),
  })
  .strict();
export type RetryRequest = z.infer<typeof RetryRequestSchema>;

/** `DELETE /idempotency-keys/{key}?type=<job type>`: keys are scoped by job type, so the type is required. */
export const ReleaseIdempotencyKeyRequestSchema = z
  .object({
    key: z.string().min(1).max(IDEMPOTENCY_KEY_MAX),
    type: JobTypeNameSchema,
  })
  .strict();
export type ReleaseIdempotencyKeyRequest = z.infer<typeof ReleaseIdempotencyKeyRequestSchema>;
