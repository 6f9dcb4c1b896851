import { createHash } from 'node:crypto';
import { z } from 'zod';
import {
  ChunkingSpecSchema,
  FailurePolicySchema,
  PackingSpecSchema,
  ReduceSpecSchema,
} from './chunking-spec.js';
import { MonitoringSpecSchema, NotificationRuleSchema } from './observability/monitoring-spec.js';
import { ResourceNameSchema } from './resource-spec.js';

/** Job type names become parts of Batch job names and resource names: keep them short and DNS-like. */
export const JobTypeNameSchema = z
  .string()
  .regex(
    /^[a-z][a-z0-9-]{0,39}$/,
    'lowercase letters, digits and hyphens, starting with a letter, at most 40',
  );

export const QueueNameSchema = z.string().regex(/^[a-z][a-z0-9-]{0,39}$/);

/** Which exit codes an application failure may be retried on. */
export const RetrySpecSchema = z
  .object({
    /** Total attempts including the first (1 = never retry). */
    attempts: z.number().int().min(1).max(20).default(3),
    /** Backoff scale in seconds for the first retry (full jitter, exponential). */
    baseDelaySeconds: z.number().min(0).max(3600).default(10),
    /** Upper bound of one backoff delay in seconds. */
    maxDelaySeconds: z.number().min(0).max(86_400).default(900),
    /** Exit codes never retried (e.g. bad input). Wins over `retryableExitCodes`. */
    nonRetryableExitCodes: z.array(z.number().int()).default([]),
    /** When set, only these exit codes are retried; otherwise every non-zero code not listed as non-retryable is. */
    retryableExitCodes: z.array(z.number().int()).optional(),
    /**
     * Exit codes that mean "retry me later" (e.g. 75, EX_TEMPFAIL, after a 429 from an API the job called): retried
     * even when `retryableExitCodes` does not list them, after the delay the job wrote to its retry marker
     * (`OFFPEAK_RETRY_MARKER`), or after the usual backoff when it wrote none. A marker alone (any exit code that is
     * not non-retryable) asks for the same. @default []
     */
    retryAfterExitCodes: z.array(z.number().int()).default([]),
    /** Longest delay a retry marker may ask for, in seconds; longer requests are cut to it. @default 86_400 */
    maxRetryAfterSeconds: z
      .number()
      .int()
      .min(0)
      .max(14 * 86_400)
      .default(86_400),
    /**
     * Status reasons never retried, as patterns where `*` matches any run of characters (e.g.
     * `'Job attempt duration exceeded timeout'`, `'Terminated: *'`). Wins over everything but exhausted attempts.
     * @default []
     */
    nonRetryableReasons: z.array(z.string().min(1).max(512)).default([]),
    /**
     * When set, a failure without an exit code (timeout, lost host, never started) is retried only when its status
     * reason matches one of these patterns; otherwise every such failure is. @default undefined (all retried)
     */
    retryableReasons: z.array(z.string().min(1).max(512)).optional(),
  })
  .strict();
export type RetrySpec = z.infer<typeof RetrySpecSchema>;

/**
 * A path into a job's params (`params.tenantId`, `params.customer.id`) whose value partitions a concurrency limit:
 * at most `limit` jobs of the type with the same value run at once, so one tenant cannot starve the others.
 */
export const ConcurrencyKeySchema = z
  .object({
    key: z
      .string()
      .max(200)
      .regex(
        /^params(\.[A-Za-z_$][A-Za-z0-9_$-]*)+$/,
        'a path into the params such as "params.tenantId" or "params.customer.id"',
      ),
    /** Jobs with one key value running at once. */
    limit: z.number().int().min(0).max(100_000),
  })
  .strict();
export type ConcurrencyKey = z.infer<typeof ConcurrencyKeySchema>;

/** A job submitted when a job of this type ends (see `onSuccess` / `onFailure`). */
export const FollowUpSchema = z
  .object({
    type: JobTypeNameSchema,
    /** Params of the follow-up job, validated against its type. @default {} */
    params: z.record(z.string(), z.unknown()).default({}),
    /** @default the follow-up type's priority */
    priority: z.number().int().min(0).max(1000).optional(),
  })
  .strict();
export type FollowUp = z.infer<typeof FollowUpSchema>;

/**
 * A job type as the runtime sees it: plain data, serializable to JSON (the params schema is JSON Schema), so
 * the same catalog drives the CDK stack, the Lambdas (bundled in) and the local service.
 */
export const JobTypeSpecSchema = z
  .object({
    name: JobTypeNameSchema,
    description: z.string().max(500).default(''),
    /** Container image for AWS Batch. */
    image: z.string().min(1),
    /** Container command (exec form). The job's params arrive as JSON in `OFFPEAK_PARAMS`. */
    command: z.array(z.string()).min(1),
    /** Command for the local executor (runs as a child process); defaults to `command`. */
    localCommand: z.array(z.string()).min(1).optional(),
    vcpu: z.number().positive().max(192).default(0.25),
    memoryMiB: z.number().int().min(128).default(512),
    gpu: z.number().int().min(0).max(8).default(0),
    timeoutSeconds: z
      .number()
      .int()
      .min(60)
      .max(14 * 86_400)
      .default(3600),
    retry: RetrySpecSchema.default(RetrySpecSchema.parse({})),
    /** Named queue the job waits in (see the queue catalog). */
    queue: QueueNameSchema.default('normal'),
    /** Default priority inside the queue, 0..1000, higher first. */
    priority: z.number().int().min(0).max(1000).default(500),
    /** Jobs of this type running at once, across queues (changeable by redeploying). @default - no limit */
    concurrency: z.number().int().min(0).max(100_000).optional(),
    /** Units of shared resources (declared in the catalog) a job of this type holds while it runs. */
    resources: z.record(ResourceNameSchema, z.number().int().min(1).max(100_000)).optional(),
    /** A per-key concurrency limit, e.g. `{ key: 'params.tenantId', limit: 2 }`. @default - none */
    concurrencyKey: ConcurrencyKeySchema.optional(),
    /**
     * Jobs to submit when a job of this type SUCCEEDED, each once (the idempotency key derives from the finished job's
     * id). They get the finished job's output location as input. @default - none
     */
    onSuccess: z.array(FollowUpSchema).max(10).optional(),
    /** Jobs to submit when a job of this type FAILED for good (after its retries). @default - none */
    onFailure: z.array(FollowUpSchema).max(10).optional(),
    /** JSON Schema (draft 2020-12) of `params`. */
    paramsSchema: z.record(z.string(), z.unknown()).default({ type: 'object' }),
    /** Plain environment variables for the container (no secrets here). */
    environment: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).default({}),
    /**
     * How a submit without an idempotency key is keyed: `none` (every submit makes a job) or `payload-hash` (a hash
     * of the type and params, so the same payload within the retention makes one job). Absent means `none` (and
     * keeps the content version of types written before the option existed).
     */
    idempotency: z.enum(['none', 'payload-hash']).optional(),
    /**
     * How long this type's idempotency keys keep returning the same job, in hours.
     * @default undefined (the deployment's `idempotencyRetentionHours` setting, 7 days unless configured)
     */
    idempotencyRetentionHours: z
      .number()
      .min(0.01)
      .max(24 * 365)
      .optional(),
    /** Environment variable name → Secrets Manager ARN, injected by Batch at start. */
    secrets: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().startsWith('arn:'))
      .default({}),
    /** Chunked fan-out of an S3 input (design §3); jobs of this type take `input`. @default - not chunked */
    chunking: ChunkingSpecSchema.optional(),
    /** Failed chunks a chunked job may have and still succeed. @default tolerates none */
    failurePolicy: FailurePolicySchema.optional(),
    /** Small-job packing: many small jobs run as one array job. @default - not packed */
    packing: PackingSpecSchema.optional(),
    /** A job type run after all chunks over the result manifest. @default - none */
    reduce: ReduceSpecSchema.optional(),
    /** Expected duration and alarm thresholds (see docs/monitoring.md). @default - the stack's defaults */
    monitoring: MonitoringSpecSchema.optional(),
    /** Who to tell when a job of this type ends (SNS topic or signed HTTPS webhook). @default - nobody */
    notifications: z.array(NotificationRuleSchema).max(10).optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if (spec.packing && spec.chunking) {
      ctx.addIssue({
        code: 'custom',
        path: ['packing'],
        message: 'a chunked job type cannot also be packed',
      });
    }
    // A pack runs as one array job on its leader's slots: per-type, per-key and resource limits of its members
    // could not hold, so a packed type may not declare them (its queue's limit still counts each pack once).
    for (const field of ['concurrency', 'concurrencyKey', 'resources'] as const) {
      if (spec.packing && spec[field] !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [field],
          message: `a packed job type cannot declare ${field}: a pack runs as one array job, so limits of its members would not hold (drop packing, or the limit)`,
        });
      }
    }
    if ((spec.reduce || spec.failurePolicy) && !spec.chunking) {
      ctx.addIssue({
        code: 'custom',
        path: [spec.reduce ? 'reduce' : 'failurePolicy'],
        message: 'reduce and failurePolicy apply to chunked job types (declare chunking)',
      });
    }
  });
export type JobTypeSpec = z.infer<typeof JobTypeSpecSchema>;
export type JobTypeSpecInput = z.input<typeof JobTypeSpecSchema>;

/**
 * Authoring form of a job type: like {@link JobTypeSpec}, but `params` is a zod schema so job authors get types.
 *
 * @example
 * defineJobType({ name: 'hello', image: 'public.ecr.aws/docker/library/busybox:stable',
 *   command: ['sh', '-c', 'echo "hello $OFFPEAK_PARAMS"'], params: z.object({ name: z.string() }) })
 */
export interface JobTypeDefinition<P extends z.ZodType = z.ZodType>
  extends Omit<JobTypeSpecInput, 'paramsSchema'> {
  readonly params?: P;
}

/** Identity helper that keeps the params type; validate with {@link toJobTypeSpec}. */
export function defineJobType<P extends z.ZodType>(definition: JobTypeDefinition<P>): JobTypeDefinition<P> {
  return definition;
}

/** Converts an authored job type into its serializable spec (params → JSON Schema), validating it. */
export function toJobTypeSpec(definition: JobTypeDefinition): JobTypeSpec {
  const { params, ...rest } = definition;
  const paramsSchema = params
    ? (z.toJSONSchema(params, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>)
    : { type: 'object' };
  return JobTypeSpecSchema.parse({ ...rest, paramsSchema });
}

/**
 * A content hash of everything that defines how a job of this type runs. Stored on every job, with the Batch job
 * definition revision, so any past run can be reproduced and compared.
 */
export function jobTypeVersion(spec: JobTypeSpec): string {
  return createHash('sha256').update(stableStringify(spec)).digest('hex').slice(0, 16);
}

/** JSON.stringify with object keys sorted, so equal values hash equally. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
