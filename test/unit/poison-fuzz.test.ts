import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  SQSBatchResponse,
  SQSEvent,
  SQSRecord,
} from 'aws-lambda';
import fc from 'fast-check';
import { ulid } from 'ulid';
import { beforeEach, describe, expect, it } from 'vitest';
import { apiRoutes, createApiHandler } from '../../lambdas/api.js';
import { createDeadLetterIngestHandler } from '../../lambdas/dead-letters.js';
import { createDispatcherHandler } from '../../lambdas/dispatcher.js';
import { createIntakeHandler } from '../../lambdas/intake.js';
import { createTrackerHandler } from '../../lambdas/tracker.js';
import { SubmitRequestSchema } from '../../src/core/requests.js';
import { submitJob } from '../../src/core/services/submit.js';
import { createLambdaContext } from '../../src/local/lambda-context.js';
import { type TestDeps, testDeps } from './support/fakes.js';
import { fixture } from './support/fixtures.js';

// Poison and bad input (issue 6), fuzzed with fast-check: whatever arrives at the HTTP API (bodies, query strings,
// path parameters, content types, base64) or on a queue (intake messages, dispatch messages, Batch and other
// EventBridge events, dead-letter queue messages), the answer is never a 5xx or a crash. An HTTP rejection is a
// 4xx JSON {error, message}; a queue message either does its work or becomes a dead letter carrying its reason
// (never a silent drop, never a retry loop until maxReceiveCount). The API fuzz covers every route the API has
// (apiRoutes), the webhook route `POST /hooks/{hookId}` included.
const context = createLambdaContext({ functionName: 'offpeak-fuzz' });
const RUNS = Number(process.env.OFFPEAK_FUZZ_RUNS ?? 150);

let deps: TestDeps;
let knownJobId: string;
beforeEach(async () => {
  deps = testDeps();
  knownJobId = (await submitJob(deps, SubmitRequestSchema.parse({ type: 'hello' }), { kind: 'api' })).job.id;
});

/** Strings that tend to break parsers: JSON fragments, unicode, huge numbers, path tricks, ids of each kind. */
const nasty = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.constantFrom(
    '',
    ' ',
    '{',
    '[]',
    'null',
    '0',
    '-1',
    '1e309',
    'NaN',
    '__proto__',
    'constructor',
    '../../etc/passwd',
    '%00',
    '%E0%A4%A',
    '💥',
    'a'.repeat(300),
    'job-01KAQZ0000000000000000000A-1',
    'msg-x',
    'QUEUED',
    'true',
  ),
  fc.constant(ulid()),
);

const jsonValue = fc.oneof(
  fc.jsonValue(),
  fc.record(
    {
      type: fc.oneof(fc.constantFrom('hello', 'nightly-backup'), nasty),
      params: fc.oneof(fc.dictionary(nasty, fc.jsonValue()), fc.jsonValue()),
      idempotencyKey: fc.oneof(nasty, fc.jsonValue()),
      priority: fc.oneof(fc.integer(), fc.double(), nasty),
      dependsOn: fc.oneof(fc.array(nasty, { maxLength: 3 }), fc.jsonValue()),
      ids: fc.oneof(fc.array(nasty, { maxLength: 3 }), fc.jsonValue()),
      all: fc.jsonValue(),
      kind: fc.oneof(fc.constantFrom('job', 'message'), nasty),
      from: fc.oneof(
        fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        nasty,
      ),
      to: fc.oneof(
        fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        nasty,
      ),
      limit: fc.oneof(fc.integer(), nasty),
    },
    { requiredKeys: [] },
  ),
);

const body = fc.oneof(
  fc.constant(undefined),
  jsonValue.map((v) => JSON.stringify(v)),
  fc.string(),
  fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString('base64')),
);

const query = fc.option(
  fc.dictionary(
    fc.oneof(
      fc.constantFrom('state', 'type', 'limit', 'cursor', 'status', 'kind', 'from', 'to', 'key'),
      nasty,
    ),
    nasty,
    { maxKeys: 4 },
  ),
  { nil: undefined },
);

function httpEvent(
  route: (typeof apiRoutes)[number],
  params: {
    pathValue: string;
    query?: Record<string, string>;
    body?: string;
    base64: boolean;
    contentType?: string;
  },
): APIGatewayProxyEventV2 {
  const base = fixture<APIGatewayProxyEventV2>('apigw-http-v2-iam.json');
  const names = [...route.path.matchAll(/\{(\w+)\+?\}/g)].map((m) => m[1]!);
  const pathParameters =
    names.length > 0 ? Object.fromEntries(names.map((n) => [n, params.pathValue])) : undefined;
  const path = route.path.replace(/\{\w+\+?\}/g, encodeURIComponent(params.pathValue));
  return {
    ...base,
    routeKey: `${route.method} ${route.path}`,
    rawPath: path,
    rawQueryString: new URLSearchParams(params.query ?? {}).toString(),
    headers: {
      ...base.headers,
      ...(params.contentType !== undefined ? { 'content-type': params.contentType } : {}),
    },
    queryStringParameters: params.query,
    pathParameters,
    requestContext: {
      ...base.requestContext,
      routeKey: `${route.method} ${route.path}`,
      http: { ...base.requestContext.http, method: route.method, path },
    },
    body: params.body,
    isBase64Encoded: params.base64,
  };
}

describe('HTTP API fuzz: never a 5xx, every rejection a clear 4xx', () => {
  it('answers any body, query, path parameter and content type on every route', async () => {
    const api = createApiHandler(() => deps);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...apiRoutes),
        fc.oneof(nasty, fc.constant('__known_job__')),
        query,
        body,
        fc.boolean(),
        fc.option(
          fc.constantFrom(
            'application/json',
            'text/plain',
            'application/x-www-form-urlencoded',
            'application/merge-patch+json',
          ),
          { nil: undefined },
        ),
        async (route, pathValue, q, b, base64, contentType) => {
          const event = httpEvent(route, {
            pathValue: pathValue === '__known_job__' ? knownJobId : pathValue,
            ...(q ? { query: q } : {}),
            ...(b !== undefined ? { body: b } : {}),
            base64,
            ...(contentType ? { contentType } : {}),
          });
          const result = (await api(event, context)) as APIGatewayProxyStructuredResultV2;
          const status = result.statusCode ?? 0;
          expect(status, `${event.routeKey} → ${result.body}`).toBeGreaterThanOrEqual(200);
          expect(status, `${event.routeKey} → ${result.body}`).toBeLessThan(500);
          if (status >= 400) {
            const error = JSON.parse(result.body ?? '{}') as { error?: unknown; message?: unknown };
            expect(typeof error.error).toBe('string');
            expect(typeof error.message).toBe('string');
            expect((error.message as string).length).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: RUNS * 4 },
    );
  });
});

function record(
  body: string,
  i: number,
  attributes: Partial<SQSRecord['messageAttributes']> = {},
): SQSRecord {
  const [template] = fixture<SQSEvent>('sqs-lambda-event.json').Records;
  return {
    ...template!,
    messageId: `fuzz-${Date.now()}-${i}-${Math.random()}`,
    body,
    messageAttributes: attributes as SQSRecord['messageAttributes'],
  };
}

/** Every record of the batch either did its work or is a dead letter; none is left to fail again. */
async function expectHandledOrDeadLettered(event: SQSEvent, response: SQSBatchResponse | undefined) {
  expect(response?.batchItemFailures ?? []).toEqual([]);
  for (const r of event.Records) {
    const dead = await deps.deadLetters.getDeadLetter(`msg-${r.messageId.replace(/[^A-Za-z0-9-]/g, '-')}`);
    if (dead) {
      expect(dead.reason.length).toBeGreaterThan(0);
      expect(dead.message?.body).toBe(r.body);
    }
  }
}

const batchEventArbitrary = fc.record(
  {
    'detail-type': fc.oneof(fc.constant('Batch Job State Change'), nasty),
    source: fc.oneof(fc.constant('aws.batch'), nasty),
    detail: fc.oneof(
      fc.record(
        {
          jobName: fc.oneof(
            fc.constant('offpeak-hello-__known__'),
            fc.string(),
            fc.constant(`offpeak-hello-${ulid()}`),
          ),
          jobId: fc.oneof(fc.string(), fc.constant('exec-1')),
          status: fc.oneof(fc.constantFrom('SUBMITTED', 'RUNNABLE', 'RUNNING', 'SUCCEEDED', 'FAILED'), nasty),
          statusReason: fc.oneof(fc.string(), fc.jsonValue()),
          container: fc.oneof(
            fc.record(
              { exitCode: fc.oneof(fc.integer(), fc.double(), nasty), logStreamName: fc.string() },
              { requiredKeys: [] },
            ),
            fc.jsonValue(),
          ),
          arrayProperties: fc.oneof(fc.record({ index: fc.integer() }, { requiredKeys: [] }), fc.jsonValue()),
          createdAt: fc.oneof(fc.integer(), nasty),
          startedAt: fc.oneof(fc.integer({ min: 0, max: 8.64e15 }), nasty),
        },
        { requiredKeys: [] },
      ),
      fc.jsonValue(),
    ),
  },
  { requiredKeys: [] },
);

describe('queue fuzz: every message does its work or becomes a dead letter with its reason', () => {
  const messages = (inner: fc.Arbitrary<string>) => fc.array(inner, { minLength: 1, maxLength: 5 });

  it('intake: any body', async () => {
    const intake = createIntakeHandler(() => deps);
    await fc.assert(
      fc.asyncProperty(
        messages(
          fc.oneof(
            fc.string(),
            jsonValue.map((v) => JSON.stringify(v)),
          ),
        ),
        async (bodies) => {
          const event: SQSEvent = { Records: bodies.map((b, i) => record(b, i)) };
          await expectHandledOrDeadLettered(event, (await intake(event, context)) as SQSBatchResponse);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('dispatcher: any body', async () => {
    const dispatcher = createDispatcherHandler(() => deps);
    const dispatchMessage = fc.oneof(
      fc.record(
        { kind: fc.oneof(fc.constantFrom('nudge', 'retry-release'), nasty), queue: nasty, jobId: nasty },
        { requiredKeys: ['kind'] },
      ),
      fc.jsonValue(),
    );
    await fc.assert(
      fc.asyncProperty(
        messages(
          fc.oneof(
            fc.string(),
            dispatchMessage.map((v) => JSON.stringify(v)),
          ),
        ),
        async (bodies) => {
          const event: SQSEvent = { Records: bodies.map((b, i) => record(b, i)) };
          await expectHandledOrDeadLettered(event, (await dispatcher(event, context)) as SQSBatchResponse);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('tracker: any EventBridge event (Batch-shaped or not), for known and unknown jobs', async () => {
    const tracker = createTrackerHandler(() => deps);
    await fc.assert(
      fc.asyncProperty(
        messages(
          fc.oneof(
            fc.string(),
            batchEventArbitrary.map((e) => JSON.stringify(e).replaceAll('__known__', knownJobId)),
          ),
        ),
        async (bodies) => {
          const event: SQSEvent = { Records: bodies.map((b, i) => record(b, i)) };
          await expectHandledOrDeadLettered(event, (await tracker(event, context)) as SQSBatchResponse);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('dead-letter ingester: any message from any DLQ is recorded, once', async () => {
    const sources = ['intake', 'dispatch', 'events', 'eventbridge'] as const;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...sources),
        messages(
          fc.oneof(
            fc.string(),
            batchEventArbitrary.map((e) => JSON.stringify(e)),
            jsonValue.map((v) => JSON.stringify(v)),
          ),
        ),
        fc.dictionary(fc.constantFrom('ERROR_CODE', 'ERROR_MESSAGE', 'offpeak-redrive-of'), fc.string(), {
          maxKeys: 3,
        }),
        async (source, bodies, attributes) => {
          const ingest = createDeadLetterIngestHandler(
            () => deps,
            () => source,
          );
          const messageAttributes = Object.fromEntries(
            Object.entries(attributes).map(([k, v]) => [k, { stringValue: v, dataType: 'String' as const }]),
          );
          const event: SQSEvent = { Records: bodies.map((b, i) => record(b, i, messageAttributes)) };
          expect(await ingest(event, context)).toEqual({ batchItemFailures: [] });
          for (const r of event.Records) {
            const dead = await deps.deadLetters.getDeadLetter(
              `msg-${r.messageId.replace(/[^A-Za-z0-9-]/g, '-')}`,
            );
            expect(dead).toMatchObject({ kind: 'message', message: { source, body: r.body } });
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});
