import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

/** The account and region the local service pretends to run in (ARNs, event envelopes). */
export const LocalAws = {
  accountId: '000000000000',
  region: 'us-east-1',
} as const;

/** A Lambda handler as the local service invokes it: `(event, context) => Promise<result>`. */
export type LambdaHandler<E, R> = (event: E, context: Context) => Promise<R>;

export interface LocalContextOptions {
  readonly functionName: string;
  /** Function timeout the context counts down from. @default 30_000 */
  readonly timeoutMs?: number;
  /** @default 1024 */
  readonly memoryLimitInMB?: number;
  /** @default {@link LocalAws.region} */
  readonly region?: string;
  /** @default {@link LocalAws.accountId} */
  readonly accountId?: string;
}

/**
 * A Lambda `Context` for one local invocation, with the fields Powertools and middy read (request id, function
 * name and ARN, remaining time).
 *
 * @example
 * await handler(event, createLambdaContext({ functionName: 'offpeak-tracker' }));
 */
export function createLambdaContext(options: LocalContextOptions): Context {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  const region = options.region ?? LocalAws.region;
  const accountId = options.accountId ?? LocalAws.accountId;
  const today = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  const unsupported = (name: string) => () => {
    throw new Error(`context.${name}() is not supported: return a promise instead`);
  };
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: options.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:${accountId}:function:${options.functionName}`,
    memoryLimitInMB: String(options.memoryLimitInMB ?? 1024),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${options.functionName}`,
    logStreamName: `${today}/[$LATEST]local`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported('done'),
    fail: unsupported('fail'),
    succeed: unsupported('succeed'),
  };
}
