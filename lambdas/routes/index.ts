import { hookRoutes } from './hooks.js';
import { jobRoutes } from './jobs.js';
import { observabilityRoutes } from './observability.js';
import { pipelineRoutes } from './pipelines.js';
import { queueRoutes } from './queues.js';
import type { Route } from './route.js';
import { scheduleRoutes } from './schedules.js';
import { serviceRoutes } from './service.js';

/**
 * Every route of the HTTP API. Add a feature's routes as one module exporting `readonly Route[]` and list it here;
 * the CDK stack, the local server and the OpenAPI test pick it up.
 */
export const allRoutes: readonly Route[] = [
  ...jobRoutes,
  ...queueRoutes,
  ...pipelineRoutes,
  ...serviceRoutes,
  ...scheduleRoutes,
  ...hookRoutes,
  ...observabilityRoutes,
];
