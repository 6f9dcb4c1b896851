import { receiveWebhook } from '../../src/core/services/webhook.js';
import { json } from '../shared/http.js';
import type { Route } from './route.js';

/**
 * Webhooks: not IAM-authorized (senders are outside AWS); each request is authenticated by its signature, checked
 * over the raw body before anything else happens.
 */
export const hookRoutes: readonly Route[] = [
  {
    method: 'POST',
    path: '/hooks/{hookId}',
    auth: 'none',
    handle: async (event, deps) => {
      const raw = event.body ?? '';
      const rawBody = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
      const headers = Object.fromEntries(
        Object.entries(event.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
      );
      const outcome = await receiveWebhook(deps, {
        hookId: event.pathParameters?.hookId ?? '',
        headers,
        rawBody,
      });
      if (outcome.kind === 'ignored') return json(202, { ignored: true, reason: outcome.reason });
      const { job, created } = outcome;
      return json(created ? 201 : 200, job, created ? { location: `/jobs/${job.id}` } : {});
    },
  },
];
