import type { APIGatewayProxyEventV2, SQSEvent } from 'aws-lambda';
import type { Job } from '../../src/core/job.js';
import { fixture } from '../unit/support/fixtures.js';

/** The docs' API Gateway v2 sample (IAM-authorized), re-pointed at one of our routes. */
export function httpEvent(
  routeKey: string,
  options: {
    path?: string;
    body?: string;
    query?: Record<string, string>;
    pathParameters?: Record<string, string>;
    headers?: Record<string, string>;
  } = {},
): APIGatewayProxyEventV2 {
  const base = fixture<APIGatewayProxyEventV2>('apigw-http-v2-iam.json');
  const [method, route] = routeKey.split(' ') as [string, string];
  const path = options.path ?? route;
  return {
    ...base,
    routeKey,
    rawPath: path,
    rawQueryString: new URLSearchParams(options.query ?? {}).toString(),
    headers: { ...base.headers, 'content-type': 'application/json', ...options.headers },
    ...(options.query ? { queryStringParameters: options.query } : { queryStringParameters: undefined }),
    ...(options.pathParameters ? { pathParameters: options.pathParameters } : { pathParameters: undefined }),
    requestContext: { ...base.requestContext, routeKey, http: { ...base.requestContext.http, method, path } },
    ...(options.body !== undefined ? { body: options.body, isBase64Encoded: false } : { body: undefined }),
  };
}

/** The docs' SQS sample with our bodies, from the queue `arn`. */
export function sqsEvent(
  bodies: readonly string[],
  arn: string,
  ids: readonly string[] = bodies.map((_, i) => `msg-${Date.now()}-${i}`),
): SQSEvent {
  const [template] = fixture<SQSEvent>('sqs-lambda-event.json').Records;
  return {
    Records: bodies.map((body, i) => ({ ...template!, messageId: ids[i]!, body, eventSourceARN: arn })),
  };
}

/** A Batch state-change event (from the real sample) for one of our jobs, as the events queue delivers it. */
export function batchEvent(job: Job, status: string, extra: Record<string, unknown> = {}): string {
  const sample = fixture<{ detail: Record<string, unknown> }>('batch-job-state-change-runnable.json');
  return JSON.stringify({
    ...sample,
    detail: {
      ...sample.detail,
      jobName: `offpeak-${job.type}-${job.id}`,
      jobId: job.executorJobId,
      status,
      ...extra,
    },
  });
}
