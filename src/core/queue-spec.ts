import { z } from 'zod';
import { QueueNameSchema } from './job-type.js';
import { RateLimitSchema } from './rate-limit.js';

/** Order inside a queue among jobs of equal priority. */
export const QueueOrder = { Fifo: 'fifo', Lifo: 'lifo' } as const;
export type QueueOrder = (typeof QueueOrder)[keyof typeof QueueOrder];

/** What the reconciler does about a job that waited longer than its queue allows. */
export const StuckAction = {
  /** Publish one `Queue Stuck` event per queue and state (at most every 15 minutes) and leave the jobs waiting. */
  Alert: 'alert',
  /** Fail the job (error `StuckInQueue` or `StuckRunnable`), which publishes `Job Failed`. */
  Fail: 'fail',
} as const;
export type StuckAction = (typeof StuckAction)[keyof typeof StuckAction];

/** Bounds of AWS Batch `jobStateTimeLimitActions.maxTimeSeconds`. */
export const BATCH_STATE_TIME_LIMIT = { min: 600, max: 86_400 } as const;

/** A named Offpeak queue: jobs wait here (in the job store) until the dispatcher releases them to Batch. */
export const QueueSpecSchema = z
  .object({
    name: QueueNameSchema,
    /** Batch job-queue priority (higher is scheduled first by Batch); distinct per queue. */
    batchPriority: z.number().int().min(0).max(1000),
    order: z.enum(['fifo', 'lifo']).default('fifo'),
    /** How many jobs of this queue may be in SUBMITTING/SUBMITTED/RUNNING at once (changeable at run time). */
    concurrency: z.number().int().min(0).max(100_000).default(10),
    /** At most this many job starts per period. @default - no rate limit */
    rate: RateLimitSchema.optional(),
    /** Longest a job may wait QUEUED (in Offpeak) before `onStuck` applies. @default - no limit */
    maxQueuedSeconds: z
      .number()
      .int()
      .min(60)
      .max(30 * 86_400)
      .optional(),
    /**
     * Longest a released job may wait to start in Batch (SUBMITTED/PENDING/RUNNABLE) before `onStuck` applies; also
     * the Batch job queue's `jobStateTimeLimitActions` (which cancel jobs blocked on capacity or on resource
     * requirements no compute environment meets).
     * @default - Batch cancels blocked jobs after 30 minutes; the reconciler does not check
     */
    maxRunnableSeconds: z
      .number()
      .int()
      .min(BATCH_STATE_TIME_LIMIT.min)
      .max(BATCH_STATE_TIME_LIMIT.max)
      .optional(),
    /** @default 'alert' */
    onStuck: z.enum(['alert', 'fail']).default('alert'),
  })
  .strict();
export type QueueSpec = z.infer<typeof QueueSpecSchema>;
export type QueueSpecInput = z.input<typeof QueueSpecSchema>;

/** The default queues: high, normal, low with distinct Batch priorities. */
export const defaultQueues: readonly QueueSpecInput[] = [
  { name: 'high', batchPriority: 300, concurrency: 20 },
  { name: 'normal', batchPriority: 200, concurrency: 10 },
  { name: 'low', batchPriority: 100, concurrency: 5 },
];
