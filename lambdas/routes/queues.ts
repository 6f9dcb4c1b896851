import { QueuePatchSchema, ResourcePatchSchema } from '../../src/core/limits.js';
import {
  listQueues,
  listResources,
  patchQueue,
  patchResource,
} from '../../src/core/services/limits-admin.js';
import { json, parseJsonBody } from '../shared/http.js';
import type { Route } from './route.js';

/** Queues and shared resources: limits in force, current use, run-time changes, pause and resume. */
export const queueRoutes: readonly Route[] = [
  {
    method: 'GET',
    path: '/queues',
    handle: async (_event, deps) => json(200, { items: await listQueues(deps) }),
  },
  {
    method: 'PATCH',
    path: '/queues/{name}',
    handle: async (event, deps) =>
      json(
        200,
        await patchQueue(deps, event.pathParameters?.name ?? '', parseJsonBody(event, QueuePatchSchema)),
      ),
  },
  {
    method: 'GET',
    path: '/resources',
    handle: async (_event, deps) => json(200, { items: await listResources(deps) }),
  },
  {
    method: 'PATCH',
    path: '/resources/{name}',
    handle: async (event, deps) =>
      json(
        200,
        await patchResource(
          deps,
          event.pathParameters?.name ?? '',
          parseJsonBody(event, ResourcePatchSchema),
        ),
      ),
  },
];
