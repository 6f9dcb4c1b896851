import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { OffpeakDeps } from '../src/core/deps.js';
import { NotFoundError } from '../src/core/errors.js';
import { allRoutes } from './routes/index.js';
import { type HttpMethod, type Route, routeKey } from './routes/route.js';
import { httpErrors } from './shared/http.js';
import { logger } from './shared/logger.js';
import { lambdaDeps } from './shared/runtime.js';

/** Method, path and authorization of every route, for the CDK stack, the local server and the OpenAPI check. */
export const apiRoutes: readonly { method: HttpMethod; path: string; auth: 'iam' | 'none' }[] = allRoutes.map(
  (r) => ({ method: r.method, path: r.path, auth: r.auth ?? 'iam' }),
);

const routesByKey = new Map<string, Route>(allRoutes.map((r) => [routeKey(r), r]));

/** The API Lambda: API Gateway HTTP API (payload 2.0) → core services → JSON. */
export function createApiHandler(getDeps: () => OffpeakDeps) {
  return middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(httpErrors(() => getDeps().log))
    .handler(async (event) => {
      const route = routesByKey.get(event.routeKey);
      if (!route) {
        throw new NotFoundError(
          'RouteNotFound',
          `No route ${event.requestContext.http.method} ${event.rawPath}`,
        );
      }
      return route.handle(event, getDeps());
    });
}

export const handler = createApiHandler(lambdaDeps);
