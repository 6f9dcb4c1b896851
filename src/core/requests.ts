import { z } from 'zod';
import { ChunkSizingSchema } from './chunking-spec.js';
import { IDEMPOTENCY_KEY_MAX } from './idempotency.js';
import { isJobId } from './ids.js';
import { TriggerSchema } from './job.js';
import { TriggerRuleSchema } from './trigger-rule.js';

/** `s3://bucket/key`: a bucket name and a non-empty key. */
export const S3UriSchema = z
  .string()
  .max(2048)
  .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+$/, 'must be an S3 URI: s3://bucket/key');

/** A job's input in a request: one object (`s3://bucket/key`) or every object under a prefix (`{ prefix }`). */
export const InputRequestSchema = z.union([S3UriSchema, z.object({ prefix: S3UriSchema }).strict()]);

/** Body of `POST /jobs`, and of an intake queue message (which may also say where it came from). */
export const SubmitRequestSchema = z
  .object({
    type: z.string().min(1).max(64),
    params: z.record(z.string(), z.unknown()).default({}),
    idempotencyKey: z.string().min(1).max(IDEMPOTENCY_KEY_MAX).optional(),
    priority: z.number().int().min(0).max(1000).optional(),
    dependsOn: z.array(z.string().refine(isJobId, 'must be a job id (ULID)')).max(100).default([]),
    /** When the job may run given how its dependencies ended. @default 'all_success' */
    triggerRule: TriggerRuleSchema.optional(),
    /** The S3 input of a chunked job type: one object (`s3://bucket/key`) or every object under a prefix. */
    input: InputRequestSchema.optional(),
    /** Overrides the job type's chunk sizing for this job. */
    chunking: ChunkSizingSchema.optional(),
    /** Validate and plan without creating anything: the answer is the plan (`POST /jobs` only). */
    dryRun: z.boolean().optional(),
  })
  .strict();
export type SubmitRequest = z.infer<typeof SubmitRequestSchema>;

/** An intake message: a submit request plus its trigger (defaults to `queue`). */
export const IntakeMessageSchema = SubmitRequestSchema.extend({ trigger: TriggerSchema.optional() }).strict();
export type IntakeMessage = z.infer<typeof IntakeMessageSchema>;

/** Messages on the dispatch queue. */
export const DispatchMessageSchema = z.discriminatedUnion('kind', [
  /** Something changed: run a dispatch pass (for one queue, or all). */
  z.object({ kind: z.literal('nudge'), queue: z.string().optional() }).strict(),
  /** A RETRY_WAIT job's backoff is over. */
  z.object({ kind: z.literal('retry-release'), jobId: z.string() }).strict(),
]);

export type DispatchMessage = z.infer<typeof DispatchMessageSchema>;

/** Query of `GET /jobs`. */
export const ListJobsRequestSchema = z
  .object({
    state: z
      .enum([
        'WAITING',
        'QUEUED',
        'SUBMITTING',
        'SUBMITTED',
        'RUNNING',
        'RETRY_WAIT',
        'SUCCEEDED',
        'FAILED',
        'CANCELLED',
        'SKIPPED',
      ])
      .optional(),
    type: z.string().min(1).max(64).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(25),
    cursor: z.string().min(1).max(2048).optional(),
  })
  .strict();
export type ListJobsRequest = z.infer<typeof ListJobsRequestSchema>;
