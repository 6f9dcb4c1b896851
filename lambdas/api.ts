import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { OffpeakDeps } from '../src/core/deps.js';
import { NotFoundError, ValidationError } from '../src/core/errors.js';
import { isJobId } from '../src/core/ids.js';
import type { Job, Trigger } from '../src/core/job.js';
import { ListJobsRequestSchema, SubmitRequestSchema } from '../src/core/requests.js';
import { cancelJob } from '../src/core/services/cancel.js';
import { submitJob } from '../src/core/services/submit.js';
import { httpErrors, json, parseJsonBody, parseWith } from './shared/http.js';
import { logger } from './shared/logger.js';
import { lambdaDeps } from './shared/runtime.js';

/** Every route of the HTTP API (the CDK stack and the local server are built from this list; the OpenAPI file is checked against it). */
export const apiRoutes = [
  { method: 'POST', path: '/jobs' },
  { method: 'GET', path: '/jobs' },
  { method: 'GET', path: '/jobs/{id}' },
  { method: 'POST', path: '/jobs/{id}/cancel' },
  { method: 'GET', path: '/job-types' },
  { method: 'GET', path: '/health' },
] as const;

type Route = (typeof apiRoutes)[number];
type KeyOf<R> = R extends { method: infer M extends string; path: infer P extends string }
  ? `${M} ${P}`
  : never;
/** `METHOD /path` as API Gateway's `routeKey` spells it. */
export type RouteKey = KeyOf<Route>;
type RouteHandler = (
  event: APIGatewayProxyEventV2,
  deps: OffpeakDeps,
) => Promise<APIGatewayProxyStructuredResultV2>;

const routes: Record<RouteKey, RouteHandler> = {
  'POST /jobs': async (event, deps) => {
    const request = parseJsonBody(event, SubmitRequestSchema);
    const { job, created } = await submitJob(deps, request, apiTrigger(event));
    return json(created ? 201 : 200, job, created ? { location: `/jobs/${job.id}` } : {});
  },
  'GET /jobs': async (event, deps) => {
    const query = parseWith(
      ListJobsRequestSchema,
      event.queryStringParameters ?? {},
      'InvalidQuery',
      'Query is invalid',
    );
    const page = await deps.store.listJobs(query);
    return json(200, { items: page.items, ...(page.cursor ? { cursor: page.cursor } : {}) });
  },
  'GET /jobs/{id}': async (event, deps) => json(200, await requireJob(deps, event.pathParameters?.id)),
  'POST /jobs/{id}/cancel': async (event, deps) => {
    const job = await requireJob(deps, event.pathParameters?.id);
    return json(200, await cancelJob(deps, job.id));
  },
  'GET /job-types': async (_event, deps) =>
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
        paramsSchema: t.paramsSchema,
      })),
    }),
  'GET /health': async (_event, deps) => json(200, { status: 'ok', time: deps.clock.now().toISOString() }),
};

async function requireJob(deps: OffpeakDeps, id: string | undefined): Promise<Job> {
  if (!id || !isJobId(id))
    throw new ValidationError('InvalidJobId', `"${id ?? ''}" is not a job id (a 26-character ULID)`);
  const job = await deps.store.getJob(id);
  if (!job) throw new NotFoundError('JobNotFound', `No job with id ${id}`);
  return job;
}

function apiTrigger(event: APIGatewayProxyEventV2): Trigger {
  const iam = (event.requestContext as { authorizer?: { iam?: { userArn?: string } } }).authorizer?.iam;
  return {
    kind: 'api',
    source: `${event.requestContext.http.method} ${event.rawPath}`,
    ...(iam?.userArn ? { actor: iam.userArn } : {}),
  };
}

/** The API Lambda: API Gateway HTTP API (payload 2.0) → core services → JSON. */
export function createApiHandler(getDeps: () => OffpeakDeps) {
  return middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(httpErrors(() => getDeps().log))
    .handler(async (event) => {
      const route = routes[event.routeKey as RouteKey];
      if (!route) {
        throw new NotFoundError(
          'RouteNotFound',
          `No route ${event.requestContext.http.method} ${event.rawPath}`,
        );
      }
      return route(event, getDeps());
    });
}

export const handler = createApiHandler(lambdaDeps);
