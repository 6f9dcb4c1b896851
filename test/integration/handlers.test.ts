import {
  BatchClient,
  DescribeJobsCommand,
  ListJobsCommand,
  SubmitJobCommand,
  TerminateJobCommand,
} from '@aws-sdk/client-batch';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { catalogData } from '../../config/offpeak.config.js';
import { createApiHandler } from '../../lambdas/api.js';
import { createDispatcherHandler } from '../../lambdas/dispatcher.js';
import { createIntakeHandler } from '../../lambdas/intake.js';
import { createReconcilerHandler } from '../../lambdas/reconciler.js';
import { createTrackerHandler } from '../../lambdas/tracker.js';
import { createAwsDeps } from '../../src/aws/deps.js';
import { EnvVars } from '../../src/aws/table-schema.js';
import type { OffpeakDeps } from '../../src/core/deps.js';
import { createLambdaContext } from '../../src/local/lambda-context.js';
import type { EnsuredResources } from '../../src/local/resources.js';
import { batchEvent, httpEvent, sqsEvent as sharedSqsEvent } from '../support/aws-events.js';
import { useEmulators } from '../support/emulators.js';
import { ensureTestResources, handlerEnv } from '../support/handler-env.js';
import { fixture } from '../unit/support/fixtures.js';

// Batch and EventBridge have no emulator: their SDK clients are mocked; DynamoDB and SQS are real emulators.
const batch = mockClient(BatchClient);
const eventbridge = mockClient(EventBridgeClient);
const emulators = useEmulators();
const context = createLambdaContext({ functionName: 'offpeak-test' });

let resources: EnsuredResources;
let deps: OffpeakDeps;
let api: ReturnType<typeof createApiHandler>;

beforeAll(async () => {
  const { clients } = emulators();
  resources = await ensureTestResources(clients);
  deps = createAwsDeps(
    handlerEnv(resources, catalogData, {
      [EnvVars.jobDefinitions]: JSON.stringify({
        hello: 'arn:jd/hello:3',
        'nightly-backup': 'arn:jd/backup:1',
        'settlement-map': 'arn:jd/settlement-map:1',
        'settlement-reduce': 'arn:jd/settlement-reduce:1',
        notify: 'arn:jd/notify:1',
      }),
    }),
    {
      clients: {
        ...clients,
        batch: new BatchClient({ region: 'us-east-1' }),
        eventbridge: new EventBridgeClient({ region: 'us-east-1' }),
      },
    },
  );
  api = createApiHandler(() => deps);
});

let batchIds = 0;
beforeEach(() => {
  batch.reset();
  eventbridge.reset();
  batch
    .on(SubmitJobCommand)
    .callsFake((input: { jobName: string }) => ({ jobId: `batch-${++batchIds}`, jobName: input.jobName }));
  batch.on(TerminateJobCommand).resolves({});
  batch.on(DescribeJobsCommand).resolves({ jobs: [] });
  batch.on(ListJobsCommand).resolves({ jobSummaryList: [] });
  eventbridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: '1' }] });
});

async function call(
  event: APIGatewayProxyEventV2,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const result = (await api(event, context)) as APIGatewayProxyStructuredResultV2;
  return { status: result.statusCode ?? 0, body: JSON.parse(result.body ?? '{}') };
}

async function postJob(body: unknown) {
  return call(httpEvent('POST /jobs', { body: JSON.stringify(body) }));
}

/** The docs' SQS sample with our bodies (from the intake queue unless told). */
function sqsEvent(bodies: string[], arn = resources.queues.intake.arn): SQSEvent {
  return sharedSqsEvent(bodies, arn);
}

describe('api handler (API Gateway v2 events)', () => {
  it('submits the sample POST /jobs body: 201, stored, with the IAM caller as actor', async () => {
    const sample = fixture<APIGatewayProxyEventV2>('apigw-http-v2-post-body.json');
    const { status, body } = await call({
      ...httpEvent('POST /jobs', { body: sample.body ?? '' }),
      headers: sample.headers,
    });
    expect(status).toBe(201);
    expect(body).toMatchObject({
      type: 'hello',
      state: 'QUEUED',
      trigger: { kind: 'api', source: 'POST /jobs' },
    });
    const iam = fixture<{ requestContext: { authorizer: { iam: { userArn: string } } } }>(
      'apigw-http-v2-iam.json',
    );
    expect(body.trigger).toMatchObject({ actor: iam.requestContext.authorizer.iam.userArn });
    const got = await call(
      httpEvent('GET /jobs/{id}', { path: `/jobs/${body.id}`, pathParameters: { id: String(body.id) } }),
    );
    expect(got).toEqual({ status: 200, body: { ...body, progress: { fraction: 0, basis: 'state' } } });
  });

  it('answers a repeated idempotency key with 200 and the same job', async () => {
    const first = await postJob({ type: 'hello', idempotencyKey: 'once' });
    const second = await postJob({ type: 'hello', idempotencyKey: 'once' });
    expect([first.status, second.status]).toEqual([201, 200]);
    expect(second.body.id).toBe(first.body.id);
  });

  it.each([
    ['{"type":', 400, 'MalformedJson'],
    ['{"type":"nope"}', 400, 'UnknownJobType'],
    ['{"type":"hello","params":{"exitCode":"x"}}', 400, 'InvalidParams'],
    ['{"type":"hello","color":"red"}', 400, 'InvalidRequest'],
    ['[]', 400, 'InvalidRequest'],
    [JSON.stringify({ type: 'hello', params: { name: 'x'.repeat(300_000) } }), 413, 'PayloadTooLarge'],
  ])('rejects %s with %i %s and stores nothing', async (raw, status, code) => {
    const before = await call(httpEvent('GET /jobs', { query: { limit: '100' } }));
    const response = await call(httpEvent('POST /jobs', { body: raw }));
    expect(response.status).toBe(status);
    expect(response.body).toMatchObject({ error: code, message: expect.any(String) });
    const after = await call(httpEvent('GET /jobs', { query: { limit: '100' } }));
    expect((after.body.items as unknown[]).length).toBe((before.body.items as unknown[]).length);
  });

  it('rejects a non-JSON content type with 415', async () => {
    const response = await call(
      httpEvent('POST /jobs', {
        body: 'type=hello',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
    );
    expect(response).toMatchObject({ status: 415, body: { error: 'UnsupportedMediaType' } });
  });

  it('answers unknown and malformed job ids with 404 and 400', async () => {
    const missing = await call(
      httpEvent('GET /jobs/{id}', {
        path: '/jobs/01KAQZ0000000000000000000A',
        pathParameters: { id: '01KAQZ0000000000000000000A' },
      }),
    );
    expect(missing).toMatchObject({ status: 404, body: { error: 'JobNotFound' } });
    const malformed = await call(
      httpEvent('GET /jobs/{id}', { path: '/jobs/x', pathParameters: { id: 'x' } }),
    );
    expect(malformed).toMatchObject({ status: 400, body: { error: 'InvalidJobId' } });
  });

  it('lists with filters and a cursor, and validates the query', async () => {
    for (let i = 0; i < 3; i++) await postJob({ type: 'nightly-backup', params: { source: `/data/${i}` } });
    const first = await call(httpEvent('GET /jobs', { query: { type: 'nightly-backup', limit: '2' } }));
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(2);
    const second = await call(
      httpEvent('GET /jobs', {
        query: { type: 'nightly-backup', limit: '2', cursor: String(first.body.cursor) },
      }),
    );
    expect(second.body.items).toHaveLength(1);
    expect(await call(httpEvent('GET /jobs', { query: { limit: '1000' } }))).toMatchObject({
      status: 400,
      body: { error: 'InvalidQuery' },
    });
    expect(await call(httpEvent('GET /jobs', { query: { state: 'DONE' } }))).toMatchObject({ status: 400 });
  });

  it('cancels a queued job; a repeated cancel answers the same cancelled job', async () => {
    const { body } = await postJob({ type: 'hello' });
    const route = { path: `/jobs/${body.id}/cancel`, pathParameters: { id: String(body.id) } };
    const first = await call(httpEvent('POST /jobs/{id}/cancel', route));
    expect(first).toMatchObject({ status: 200, body: { state: 'CANCELLED' } });
    expect(await call(httpEvent('POST /jobs/{id}/cancel', route))).toEqual(first);
  });

  it('lists job types and answers health', async () => {
    const types = await call(httpEvent('GET /job-types'));
    expect((types.body.items as { name: string }[]).map((t) => t.name)).toEqual([
      'hello',
      'nightly-backup',
      'settlement-map',
      'settlement-reduce',
      'notify',
    ]);
    expect(await call(httpEvent('GET /health'))).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await call(httpEvent('DELETE /everything'))).toMatchObject({
      status: 404,
      body: { error: 'RouteNotFound' },
    });
  });
});

describe('intake handler (SQS events)', () => {
  it('submits each valid message once and dead-letters the malformed record with its reason', async () => {
    const intake = createIntakeHandler(() => deps);
    const event = sqsEvent([
      JSON.stringify({ type: 'hello', params: { name: 'from-queue' } }),
      'Test message.',
      JSON.stringify({
        type: 'hello',
        params: { name: 'second' },
        trigger: { kind: 'schedule', source: 'sched-1' },
      }),
    ]);
    const response = await intake(event, context);
    // A poison message never succeeds: it is a dead letter at once, not a retry until maxReceiveCount.
    expect(response.batchItemFailures).toEqual([]);
    expect(await deps.deadLetters.getDeadLetter(`msg-${event.Records[1]!.messageId}`)).toMatchObject({
      kind: 'message',
      reason: expect.stringMatching(/^InvalidMessage: /),
      message: { source: 'intake', body: 'Test message.' },
    });
    // The same batch again (SQS redelivery): no new jobs, same two keys.
    await intake(event, context);
    const listed = (await deps.store.listJobs({ type: 'hello', limit: 100 })).items;
    const mine = listed.filter((j) => ['from-queue', 'second'].includes(String(j.params.name)));
    expect(mine).toHaveLength(2);
    expect(mine.find((j) => j.params.name === 'second')?.trigger).toEqual({
      kind: 'schedule',
      source: 'sched-1',
    });
    expect(mine.find((j) => j.params.name === 'from-queue')?.trigger).toEqual({
      kind: 'queue',
      source: resources.queues.intake.arn,
    });
  });
});

describe('dispatcher → tracker (Batch mocked, events from the real samples)', () => {
  it('runs a job from QUEUED to SUCCEEDED and publishes Job Succeeded', async () => {
    const { body } = await postJob({ type: 'hello', params: { name: 'Ada' } });
    const dispatcher = createDispatcherHandler(() => deps);
    const nudge = sqsEvent(
      [JSON.stringify({ kind: 'nudge', queue: 'normal' })],
      resources.queues.dispatch.arn,
    );
    expect(await dispatcher(nudge, context)).toEqual({ batchItemFailures: [] });

    const submits = batch.commandCalls(SubmitJobCommand).map((c) => c.args[0].input);
    const mine = submits.find((s) => s.jobName === `offpeak-hello-${body.id}`);
    expect(mine).toMatchObject({ jobQueue: 'arn:jq/normal', jobDefinition: 'arn:jd/hello:3' });
    const job = (await deps.store.getJob(String(body.id)))!;
    expect(job).toMatchObject({ state: 'SUBMITTED', runSpec: { jobDefinition: 'arn:jd/hello:3' } });

    const tracker = createTrackerHandler(() => deps);
    const events = sqsEvent(
      [
        batchEvent(job, 'RUNNABLE'),
        batchEvent(job, 'RUNNING', { startedAt: 1_700_000_000_000 }),
        batchEvent(job, 'SUCCEEDED', { container: { exitCode: 0 }, stoppedAt: 1_700_000_005_000 }),
        batchEvent(job, 'RUNNING'), // late duplicate
      ],
      resources.queues.events.arn,
    );
    expect(await tracker(events, context)).toEqual({ batchItemFailures: [] });
    expect(await deps.store.getJob(job.id)).toMatchObject({ state: 'SUCCEEDED', exitCode: 0 });
    const published = eventbridge
      .commandCalls(PutEventsCommand)
      .flatMap((c) => c.args[0].input.Entries ?? []);
    expect(
      published.filter((e) => e.DetailType === 'Job Succeeded' && e.Detail?.includes(job.id)),
    ).toHaveLength(1);
  });

  it('ignores events of jobs Offpeak did not submit and dead-letters records that are not Batch events', async () => {
    const tracker = createTrackerHandler(() => deps);
    const event = fixture<SQSEvent>('eventbridge-to-sqs.json');
    const response = await tracker(event, context);
    // Record 1 is a Batch event of someone else's job (ignored); record 2 is an S3 event (invalid here).
    expect(response.batchItemFailures).toEqual([]);
    expect(await deps.deadLetters.getDeadLetter(`msg-${event.Records[1]!.messageId}`)).toMatchObject({
      message: { source: 'events' },
      reason: expect.stringMatching(/^InvalidMessage: /),
    });
    expect(await deps.deadLetters.getDeadLetter(`msg-${event.Records[0]!.messageId}`)).toBeUndefined();
  });

  it('nudges the dispatcher through the real dispatch queue on submit', async () => {
    const { clients } = emulators();
    await postJob({ type: 'hello' });
    const received = await clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: resources.queues.dispatch.url, MaxNumberOfMessages: 10 }),
    );
    expect((received.Messages ?? []).map((m) => JSON.parse(m.Body ?? '{}'))).toContainEqual({
      kind: 'nudge',
      queue: 'normal',
    });
  });
});

describe('reconciler handler', () => {
  it('returns a summary of repairs', async () => {
    const reconciler = createReconcilerHandler(() => deps);
    const summary = await reconciler({ source: 'aws.scheduler' }, context);
    expect(summary).toMatchObject({ adopted: 0, requeued: 0, errors: 0 });
  });
});
