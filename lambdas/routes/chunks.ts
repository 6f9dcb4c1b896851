import { RetryRequestSchema } from '../../src/core/requests.js';
import { retryJob } from '../../src/core/services/retry.js';
import { json, parseJsonBody } from '../shared/http.js';
import { requireJob } from './jobs.js';
import type { Route } from './route.js';

/** Retrying failed jobs (a chunked job runs only its failed chunks). */
export const retryRoutes: readonly Route[] = [
  {
    method: 'POST',
    path: '/jobs/{id}/retry',
    handle: async (event, deps) => {
      const job = await requireJob(deps, event.pathParameters?.id);
      const body = event.body ? parseJsonBody(event, RetryRequestSchema) : {};
      return json(202, await retryJob(deps, job.id, body.reason));
    },
  },
];
