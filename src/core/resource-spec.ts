import { z } from 'zod';
import { RateLimitSchema } from './rate-limit.js';

/** Names of shared resources (`warehouse-db`), queues and job types share this shape. */
export const ResourceNameSchema = z
  .string()
  .regex(
    /^[a-z][a-z0-9-]{0,62}$/,
    'lowercase letters, digits and hyphens, starting with a letter, at most 63',
  );

/**
 * A named shared resource (a database, an API with a quota): job types name the units they use of it
 * (`resources: { 'warehouse-db': 1 }`), and a job starts only when every resource it needs has that many units free.
 * The limit can be changed at run time (`PATCH /resources/{name}`).
 *
 * @example { name: 'warehouse-db', limit: 2, rate: { limit: 30, periodSeconds: 60 } }
 */
export const ResourceSpecSchema = z
  .object({
    name: ResourceNameSchema,
    description: z.string().max(500).default(''),
    /** Units in use at once across every job type that uses the resource. */
    limit: z.number().int().min(0).max(100_000),
    /** At most this many starts of jobs that use the resource per period. @default - no rate limit */
    rate: RateLimitSchema.optional(),
  })
  .strict();
export type ResourceSpec = z.infer<typeof ResourceSpecSchema>;
export type ResourceSpecInput = z.input<typeof ResourceSpecSchema>;
