import { RetryRequestSchema } from '../../src/core/reliability-requests.js';
import { retryJob } from '../../src/core/services/retry.js';
import { json, parseJsonBody } from '../shared/http.js';
import { apiTrigger, requireJob } from './jobs.js';
import type { Route } from './route.js';

/**
 * Retry a finished job: `POST /jobs/{id}/retry` puts a FAILED or CANCELLED job back in the queue for a new attempt
 * series (same job, history kept; a chunked job runs only its failed chunks, each from its checkpoint). Anything else (a running job, a succeeded one) is a 409 `JobNotRetryable`.
 */
export const retryRoutes: readonly Route[] = [
  {
    method: 'POST',
    path: '/jobs/{id}/retry',
    handle: async (event, deps) => {
      const job = await requireJob(deps, event.pathParameters?.id);
      const { reason } = parseJsonBody(event, RetryRequestSchema);
      const actor = apiTrigger(event).actor;
      return json(
        200,
        await retryJob(deps, job.id, {
          cause: 'retry',
          ...(actor ? { actor } : {}),
          ...(reason ? { reason } : {}),
        }),
      );
    },
  },
];
