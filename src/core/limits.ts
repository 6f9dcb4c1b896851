import { z } from 'zod';
import type { Catalog } from './catalog.js';

/** A queue's settings changed at run time (`PATCH /queues/{name}`); absent fields keep the catalog's value. */
export const QueueOverrideSchema = z
  .object({
    concurrency: z.number().int().min(0).max(100_000).optional(),
    paused: z.boolean().optional(),
    updatedAt: z.string(),
  })
  .strict();
export type QueueOverride = z.infer<typeof QueueOverrideSchema>;

/** A resource's limit changed at run time (`PATCH /resources/{name}`). */
export const ResourceOverrideSchema = z
  .object({
    limit: z.number().int().min(0).max(100_000).optional(),
    updatedAt: z.string(),
  })
  .strict();
export type ResourceOverride = z.infer<typeof ResourceOverrideSchema>;

/** Every run-time override, as stored (one config item per queue or resource). */
export interface LimitOverrides {
  readonly queues: Readonly<Record<string, QueueOverride>>;
  readonly resources: Readonly<Record<string, ResourceOverride>>;
}

export const noOverrides: LimitOverrides = { queues: {}, resources: {} };

/**
 * The limits in force: the catalog's defaults with the run-time overrides on top. Read once per dispatcher pass,
 * so a change takes effect on the next pass.
 */
export class EffectiveLimits {
  constructor(
    readonly catalog: Catalog,
    readonly overrides: LimitOverrides = noOverrides,
  ) {}

  queueConcurrency(queue: string): number {
    return this.overrides.queues[queue]?.concurrency ?? this.catalog.queue(queue).concurrency;
  }

  queuePaused(queue: string): boolean {
    return this.overrides.queues[queue]?.paused ?? false;
  }

  /** A resource's limit; a resource the catalog no longer declares has none left (0). */
  resourceLimit(resource: string): number {
    return this.overrides.resources[resource]?.limit ?? this.catalog.findResource(resource)?.limit ?? 0;
  }
}

/** A change to a queue's run-time settings: a number or boolean sets it, `null` goes back to the catalog's value. */
export const QueuePatchSchema = z
  .object({
    concurrency: z.number().int().min(0).max(100_000).nullable().optional(),
    paused: z.boolean().nullable().optional(),
  })
  .strict()
  .refine((patch) => patch.concurrency !== undefined || patch.paused !== undefined, {
    message: 'give at least one of concurrency, paused',
  });
export type QueuePatch = z.infer<typeof QueuePatchSchema>;

/** A change to a resource's limit: a number sets it, `null` goes back to the catalog's value. */
export const ResourcePatchSchema = z
  .object({
    limit: z.number().int().min(0).max(100_000).nullable(),
  })
  .strict();
export type ResourcePatch = z.infer<typeof ResourcePatchSchema>;
