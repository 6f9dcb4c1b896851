import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { z } from 'zod';
import type { Log } from '../../src/core/deps.js';
import { ErrorKind, OffpeakError, serializeError, ValidationError } from '../../src/core/errors.js';

/** Largest accepted request body (decoded). Larger bodies get 413; put big payloads in S3 and pass a reference. */
export const MAX_BODY_BYTES = 256 * 1024;

/** The JSON error body every 4xx/5xx carries. */
export interface ErrorBody {
  readonly error: string;
  readonly message: string;
  readonly details?: unknown;
}

export function json(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

const statusByKind: Record<string, number> = {
  [ErrorKind.Validation]: 400,
  [ErrorKind.NotFound]: 404,
  [ErrorKind.Conflict]: 409,
  [ErrorKind.Retryable]: 503,
  [ErrorKind.NonRetryable]: 500,
};

const statusByCode: Record<string, number> = {
  PayloadTooLarge: 413,
  InvalidSignature: 401,
  MappingFailed: 422,
  UnsupportedMediaType: 415,
  RouteNotFound: 404,
};

/** Maps any error to its HTTP response, once, at the edge. Unknown errors become a 500 without internals. */
export function errorResponse(error: unknown, log: Log): APIGatewayProxyStructuredResultV2 {
  if (error instanceof OffpeakError) {
    const status = statusByCode[error.code] ?? statusByKind[error.kind] ?? 500;
    if (status < 500) {
      return json(status, {
        error: error.code,
        message: error.message,
        ...(error.details !== undefined ? { details: error.details } : {}),
      } satisfies ErrorBody);
    }
    if (error.kind === ErrorKind.Retryable) {
      log.warn('Request failed with a transient error', { error: serializeError(error) });
      return json(
        503,
        { error: error.code, message: 'Temporarily unavailable; retry with backoff.' },
        { 'retry-after': '1' },
      );
    }
  }
  log.error('Unhandled error', { error: serializeError(error) });
  return json(500, {
    error: 'InternalError',
    message: 'The request could not be completed; it is safe to retry.',
  });
}

/** Middy middleware: turns thrown errors into JSON error responses. */
export function httpErrors(
  log: () => Log,
): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> {
  return {
    onError: async (request) => {
      request.response = errorResponse(request.error, log());
    },
  };
}

/** The decoded body as text, within {@link MAX_BODY_BYTES}. */
export function bodyText(event: APIGatewayProxyEventV2): string {
  const raw = event.body ?? '';
  const buffer = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  if (buffer.byteLength > MAX_BODY_BYTES) {
    throw new ValidationError(
      'PayloadTooLarge',
      `Request body is ${buffer.byteLength} bytes; the limit is ${MAX_BODY_BYTES}`,
    );
  }
  return buffer.toString('utf8');
}

/** Parses a JSON body (empty body = `{}`) and validates it with `schema`. */
export function parseJsonBody<S extends z.ZodType>(event: APIGatewayProxyEventV2, schema: S): z.infer<S> {
  const contentType = headerValue(event, 'content-type');
  if (contentType && !/^application\/(.+\+)?json\b/i.test(contentType)) {
    throw new ValidationError('UnsupportedMediaType', `Expected application/json, got ${contentType}`);
  }
  const text = bodyText(event).trim();
  let data: unknown = {};
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch (error) {
      throw new ValidationError(
        'MalformedJson',
        `Request body is not valid JSON: ${(error as Error).message}`,
      );
    }
  }
  return parseWith(schema, data, 'InvalidRequest', 'Request body is invalid');
}

/** Validates `data` with `schema`; failures become a ValidationError listing every issue by path. */
export function parseWith<S extends z.ZodType>(
  schema: S,
  data: unknown,
  code: string,
  message: string,
): z.infer<S> {
  const result = schema.safeParse(data);
  if (!result.success) {
    throw new ValidationError(code, `${message}: ${z.prettifyError(result.error).replaceAll('\n', ' ')}`, {
      details: result.error.issues.map((i) => ({ path: i.path.join('.') || '/', message: i.message })),
    });
  }
  return result.data;
}

export function headerValue(event: APIGatewayProxyEventV2, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {}))
    if (key.toLowerCase() === lower) return value;
  return undefined;
}
