import { deadLetterRoutes } from './dead-letters.js';
import { idempotencyKeyRoutes } from './idempotency-keys.js';
import { jobRoutes } from './jobs.js';
import { retryRoutes } from './retry.js';
import type { Route } from './route.js';
import { serviceRoutes } from './service.js';

/**
 * Every route of the HTTP API. Add a feature's routes as one module exporting `readonly Route[]` and list it here;
 * the CDK stack, the local server and the OpenAPI test pick it up.
 */
export const allRoutes: readonly Route[] = [
  ...jobRoutes,
  ...serviceRoutes,
  // Reliability (issue 6).
  ...retryRoutes,
  ...deadLetterRoutes,
  ...idempotencyKeyRoutes,
];
