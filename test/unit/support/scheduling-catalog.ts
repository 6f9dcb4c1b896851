import { z } from 'zod';
import { buildCatalogData, Catalog } from '../../../src/core/catalog.js';
import { defineJobType, type JobTypeDefinition } from '../../../src/core/job-type.js';
import type { QueueSpecInput } from '../../../src/core/queue-spec.js';
import type { ResourceSpecInput } from '../../../src/core/resource-spec.js';

const base = { image: 'busybox', command: ['true'], retry: { attempts: 1 } };

/**
 * A catalog exercising every limit level: `work` (plain), `etl` (type limit 3, key `params.tenant` limit 2, one unit of
 * `warehouse`), `bulk` (two units of `warehouse`), `api-call` (rate-limited resource), on a FIFO queue `main`
 * (concurrency 10), a LIFO queue `stack` and a rate-limited queue `slow`.
 */
export const schedulingJobTypes: JobTypeDefinition[] = [
  defineJobType({
    ...base,
    name: 'work',
    queue: 'main',
    params: z.object({ n: z.number().optional(), tenant: z.string().optional() }),
  }),
  defineJobType({
    ...base,
    name: 'etl',
    queue: 'main',
    concurrency: 3,
    concurrencyKey: { key: 'params.tenant', limit: 2 },
    resources: { warehouse: 1 },
    params: z.object({ tenant: z.string().optional(), n: z.number().optional() }),
  }),
  defineJobType({ ...base, name: 'bulk', queue: 'main', resources: { warehouse: 2 } }),
  defineJobType({ ...base, name: 'api-call', queue: 'main', resources: { 'partner-api': 1 } }),
  defineJobType({ ...base, name: 'newest', queue: 'stack' }),
  defineJobType({ ...base, name: 'trickle', queue: 'slow' }),
];

export const schedulingQueues: QueueSpecInput[] = [
  { name: 'main', batchPriority: 300, concurrency: 10 },
  { name: 'stack', batchPriority: 200, order: 'lifo', concurrency: 10 },
  { name: 'slow', batchPriority: 100, concurrency: 10, rate: { limit: 2, periodSeconds: 60 } },
];

export const schedulingResources: ResourceSpecInput[] = [
  { name: 'warehouse', limit: 3 },
  { name: 'partner-api', limit: 100, rate: { limit: 1, periodSeconds: 10 } },
];

export function schedulingCatalog(
  changes: {
    jobTypes?: JobTypeDefinition[];
    queues?: QueueSpecInput[];
    resources?: ResourceSpecInput[];
  } = {},
): Catalog {
  return new Catalog(
    buildCatalogData({
      jobTypes: changes.jobTypes ?? schedulingJobTypes,
      queues: changes.queues ?? schedulingQueues,
      resources: changes.resources ?? schedulingResources,
    }),
  );
}
