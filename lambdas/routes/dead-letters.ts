import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { DeadLetterIdSchema } from '../../src/core/dead-letter.js';
import { ValidationError } from '../../src/core/errors.js';
import { ListDeadLettersRequestSchema, RedriveRequestSchema } from '../../src/core/reliability-requests.js';
import {
  deleteDeadLetter,
  listDeadLetters,
  redriveDeadLetters,
  requireDeadLetter,
} from '../../src/core/services/dead-letters.js';
import { json, parseJsonBody, parseWith } from '../shared/http.js';
import { apiTrigger } from './jobs.js';
import type { Route } from './route.js';

/** Inspect, redrive and delete dead letters (jobs that failed for good, messages no consumer could handle). */
export const deadLetterRoutes: readonly Route[] = [
  {
    method: 'GET',
    path: '/dead-letters',
    handle: async (event, deps) => {
      const query = parseWith(
        ListDeadLettersRequestSchema,
        event.queryStringParameters ?? {},
        'InvalidQuery',
        'Query is invalid',
      );
      const page = await listDeadLetters(deps, query);
      return json(200, { items: page.items, ...(page.cursor ? { cursor: page.cursor } : {}) });
    },
  },
  {
    method: 'GET',
    path: '/dead-letters/{id}',
    handle: async (event, deps) => json(200, await requireDeadLetter(deps, deadLetterId(event))),
  },
  {
    method: 'POST',
    path: '/dead-letters/redrive',
    handle: async (event, deps) => {
      const body = parseJsonBody(event, RedriveRequestSchema);
      const actor = apiTrigger(event).actor;
      const selection = body.ids
        ? { ids: body.ids }
        : {
            ...(body.kind ? { kind: body.kind } : {}),
            ...(body.type ? { type: body.type } : {}),
            ...(body.from ? { from: body.from } : {}),
            ...(body.to ? { to: body.to } : {}),
            limit: body.limit,
          };
      return json(200, await redriveDeadLetters(deps, selection, actor));
    },
  },
  {
    method: 'DELETE',
    path: '/dead-letters/{id}',
    handle: async (event, deps) => {
      await deleteDeadLetter(deps, deadLetterId(event));
      return { statusCode: 204, headers: { 'cache-control': 'no-store' }, body: '' };
    },
  },
];

function deadLetterId(event: APIGatewayProxyEventV2): string {
  const id = event.pathParameters?.id ?? '';
  if (!DeadLetterIdSchema.safeParse(id).success) {
    throw new ValidationError(
      'InvalidDeadLetterId',
      `"${id.slice(0, 200)}" is not a dead-letter id (job-<jobId>-<attempt> or msg-<messageId>)`,
    );
  }
  return id;
}
