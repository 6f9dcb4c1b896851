import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { OffpeakDeps } from '../../src/core/deps.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * One route of the HTTP API. The CDK stack, the local HTTP server, the OpenAPI check and the handler are all built
 * from the list of these (lambdas/routes/index.ts), so a route cannot exist in one place only.
 */
export interface Route {
  readonly method: HttpMethod;
  /** API Gateway path syntax: `/jobs/{id}`. */
  readonly path: string;
  /**
   * `iam` (default): SigV4 / IAM authorization on AWS. `none`: public, for routes that authenticate the request
   * themselves (signed webhooks).
   */
  readonly auth?: 'iam' | 'none';
  readonly handle: (
    event: APIGatewayProxyEventV2,
    deps: OffpeakDeps,
  ) => Promise<APIGatewayProxyStructuredResultV2>;
}

/** `METHOD /path`, as API Gateway spells `routeKey`. */
export function routeKey(route: Pick<Route, 'method' | 'path'>): string {
  return `${route.method} ${route.path}`;
}
