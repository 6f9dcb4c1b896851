import { deadLetterRoutes } from './dead-letters.js';
import { hookRoutes } from './hooks.js';
import { idempotencyKeyRoutes } from './idempotency-keys.js';
import { jobRoutes } from './jobs.js';
import { observabilityRoutes } from './observability.js';
import { pipelineRoutes } from './pipelines.js';
import { queueRoutes } from './queues.js';
import { retryRoutes } from './retry.js';
import type { Route } from './route.js';
import { scheduleRoutes } from './schedules.js';
import { serviceRoutes } from './service.js';

/**
 * Every route of the HTTP API. Add a feature's routes as one module exporting `readonly Route[]` and list it here;
 * the CDK stack, the local server and the OpenAPI test pick it up.
 */
export const allRoutes: readonly Route[] = [
  ...jobRoutes,
  ...retryRoutes,
  ...queueRoutes,
  ...pipelineRoutes,
  ...serviceRoutes,
  ...scheduleRoutes,
  ...hookRoutes,
  // Reliability (issue 6).
  ...deadLetterRoutes,
  ...idempotencyKeyRoutes,
  // Monitoring (issue 7).
  ...observabilityRoutes,
];
