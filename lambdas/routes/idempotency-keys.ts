import { ReleaseIdempotencyKeyRequestSchema } from '../../src/core/reliability-requests.js';
import { releaseIdempotencyKey } from '../../src/core/services/idempotency-keys.js';
import { parseWith } from '../shared/http.js';
import type { Route } from './route.js';

/**
 * Release an idempotency key so a job can be submitted again on purpose: `DELETE /idempotency-keys/{key}?type=<job
 * type>` with the key as the client sent it (percent-encoded in the path). 404 `IdempotencyKeyNotFound` when there
 * is no such key.
 */
export const idempotencyKeyRoutes: readonly Route[] = [
  {
    method: 'DELETE',
    path: '/idempotency-keys/{key}',
    handle: async (event, deps) => {
      const { key, type } = parseWith(
        ReleaseIdempotencyKeyRequestSchema,
        { ...(event.queryStringParameters ?? {}), key: event.pathParameters?.key ?? '' },
        'InvalidRequest',
        'Request is invalid',
      );
      await releaseIdempotencyKey(deps, type, key);
      return { statusCode: 204, headers: { 'cache-control': 'no-store' }, body: '' };
    },
  },
];
