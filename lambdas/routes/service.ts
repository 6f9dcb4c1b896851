import { json } from '../shared/http.js';
import type { Route } from './route.js';

/** What the deployment runs, and liveness. */
export const serviceRoutes: readonly Route[] = [
  {
    method: 'GET',
    path: '/job-types',
    handle: async (_event, deps) =>
      json(200, {
        items: deps.catalog.jobTypes().map((t) => ({
          name: t.name,
          description: t.description,
          version: t.version,
          queue: t.queue,
          priority: t.priority,
          image: t.image,
          command: t.command,
          vcpu: t.vcpu,
          memoryMiB: t.memoryMiB,
          gpu: t.gpu,
          timeoutSeconds: t.timeoutSeconds,
          retry: t.retry,
          ...(t.concurrency !== undefined ? { concurrency: t.concurrency } : {}),
          ...(t.resources ? { resources: t.resources } : {}),
          ...(t.concurrencyKey ? { concurrencyKey: t.concurrencyKey } : {}),
          ...(t.onSuccess ? { onSuccess: t.onSuccess } : {}),
          ...(t.onFailure ? { onFailure: t.onFailure } : {}),
          paramsSchema: t.paramsSchema,
        })),
      }),
  },
  {
    method: 'GET',
    path: '/health',
    handle: async (_event, deps) => json(200, { status: 'ok', time: deps.clock.now().toISOString() }),
  },
];
