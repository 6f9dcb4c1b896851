import { z } from 'zod';
import { QueueNameSchema } from './job-type.js';

/** Order inside a queue among jobs of equal priority. */
export const QueueOrder = { Fifo: 'fifo', Lifo: 'lifo' } as const;
export type QueueOrder = (typeof QueueOrder)[keyof typeof QueueOrder];

/** A named Offpeak queue: jobs wait here (in the job store) until the dispatcher releases them to Batch. */
export const QueueSpecSchema = z
  .object({
    name: QueueNameSchema,
    /** Batch job-queue priority (higher is scheduled first by Batch); distinct per queue. */
    batchPriority: z.number().int().min(0).max(1000),
    order: z.enum(['fifo', 'lifo']).default('fifo'),
    /** How many jobs of this queue may be in SUBMITTING/SUBMITTED/RUNNING at once. */
    concurrency: z.number().int().min(0).max(100_000).default(10),
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
