import { BatchClient, SubmitJobCommand, TerminateJobCommand } from '@aws-sdk/client-batch';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApiHandler } from '../../lambdas/api.js';
import { createDispatcherHandler } from '../../lambdas/dispatcher.js';
import { createAwsDeps } from '../../src/aws/deps.js';
import { EnvVars } from '../../src/aws/table-schema.js';
import { buildCatalogData } from '../../src/core/catalog.js';
import type { OffpeakDeps } from '../../src/core/deps.js';
import { createLambdaContext } from '../../src/local/lambda-context.js';
import { httpEvent } from '../support/aws-events.js';
import { useEmulators } from '../support/emulators.js';
import { ensureTestResources, handlerEnv } from '../support/handler-env.js';
import {
  schedulingJobTypes,
  schedulingQueues,
  schedulingResources,
} from '../unit/support/scheduling-catalog.js';

// Batch and EventBridge have no emulator: their SDK clients are mocked; DynamoDB and SQS are real emulators.
const batch = mockClient(BatchClient);
const eventbridge = mockClient(EventBridgeClient);
const emulators = useEmulators();
const context = createLambdaContext({ functionName: 'offpeak-test' });
const catalogData = buildCatalogData({
  jobTypes: schedulingJobTypes,
  queues: schedulingQueues,
  resources: schedulingResources,
});

let deps: OffpeakDeps;
let api: ReturnType<typeof createApiHandler>;

beforeAll(async () => {
  const { clients } = emulators();
  const resources = await ensureTestResources(clients);
  deps = createAwsDeps(handlerEnv(resources, catalogData, { [EnvVars.bucket]: resources.bucketName }), {
    clients: {
      ...clients,
      batch: new BatchClient({ region: 'us-east-1' }),
      eventbridge: new EventBridgeClient({ region: 'us-east-1' }),
    },
  });
  api = createApiHandler(() => deps);
});

let batchIds = 0;
beforeEach(() => {
  batch.reset();
  eventbridge.reset();
  batch.on(SubmitJobCommand).callsFake(() => ({ jobId: `batch-${++batchIds}`, jobName: 'x' }));
  batch.on(TerminateJobCommand).resolves({});
  eventbridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: '1' }] });
});

async function call(routeKey: string, path: string, body?: unknown, pathParameters?: Record<string, string>) {
  const event = httpEvent(routeKey, {
    path,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    ...(pathParameters ? { pathParameters } : {}),
  });
  const result = (await api(event, context)) as APIGatewayProxyStructuredResultV2;
  // biome-ignore lint/suspicious/noExplicitAny: response JSON is navigated freely in assertions
  const json = JSON.parse(result.body ?? '{}') as Record<string, any>;
  return { status: result.statusCode ?? 0, body: json };
}

describe('queues and resources over the API', () => {
  it('lists queues with their use, changes limits, pauses and resumes', async () => {
    const listed = await call('GET /queues', '/queues');
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((q: { name: string }) => q.name)).toEqual(['main', 'stack', 'slow']);
    expect(listed.body.items[2]).toMatchObject({
      name: 'slow',
      order: 'fifo',
      paused: false,
      concurrency: { limit: 10, default: 10, used: 0 },
      queued: 0,
      rate: { limit: 2, periodSeconds: 60, burst: 1 },
    });

    const patched = await call(
      'PATCH /queues/{name}',
      '/queues/main',
      { concurrency: 1, paused: true },
      { name: 'main' },
    );
    expect(patched).toMatchObject({
      status: 200,
      body: { concurrency: { limit: 1, default: 10 }, paused: true },
    });
    await call('POST /jobs', '/jobs', { type: 'work' });
    const dispatcher = createDispatcherHandler(() => deps);
    await dispatcher({ source: 'aws.events' } as never, context);
    expect(batch.commandCalls(SubmitJobCommand)).toHaveLength(0);
    await call('PATCH /queues/{name}', '/queues/main', { paused: false }, { name: 'main' });
    await dispatcher({ source: 'aws.events' } as never, context);
    expect(batch.commandCalls(SubmitJobCommand)).toHaveLength(1);
    expect((await call('GET /queues', '/queues')).body.items[0]).toMatchObject({
      concurrency: { limit: 1, used: 1 },
      paused: false,
    });
  });

  it('answers bad limits and unknown names with 4xx naming them', async () => {
    expect(
      await call('PATCH /queues/{name}', '/queues/main', { concurrency: -1 }, { name: 'main' }),
    ).toMatchObject({
      status: 400,
      body: { error: 'InvalidRequest', details: [{ path: 'concurrency' }] },
    });
    expect(await call('PATCH /queues/{name}', '/queues/main', {}, { name: 'main' })).toMatchObject({
      status: 400,
    });
    expect(
      await call('PATCH /queues/{name}', '/queues/nope', { paused: true }, { name: 'nope' }),
    ).toMatchObject({
      status: 404,
      body: { error: 'UnknownQueue', details: { queue: 'nope' } },
    });
    expect(
      await call('PATCH /resources/{name}', '/resources/gpu', { limit: 2 }, { name: 'gpu' }),
    ).toMatchObject({
      status: 404,
      body: { error: 'UnknownResource', details: { resource: 'gpu' } },
    });
    expect(
      await call('PATCH /resources/{name}', '/resources/warehouse', { limit: -5 }, { name: 'warehouse' }),
    ).toMatchObject({
      status: 400,
      body: { details: [{ path: 'limit' }] },
    });
    expect(
      await call('POST /jobs', '/jobs', { type: 'work', dependsOn: ['01KAQZ0000000000000000000A'] }),
    ).toMatchObject({
      status: 400,
      body: { error: 'UnknownDependencies', details: { missing: ['01KAQZ0000000000000000000A'] } },
    });
  });

  it('lists resources and changes a limit', async () => {
    const patched = await call(
      'PATCH /resources/{name}',
      '/resources/warehouse',
      { limit: 1 },
      { name: 'warehouse' },
    );
    expect(patched).toMatchObject({
      status: 200,
      body: { name: 'warehouse', limit: 1, defaultLimit: 3, used: 0, jobTypes: { etl: 1, bulk: 2 } },
    });
    await call('PATCH /resources/{name}', '/resources/warehouse', { limit: null }, { name: 'warehouse' });
    const listed = await call('GET /resources', '/resources');
    expect(listed.body.items).toEqual([
      expect.objectContaining({ name: 'warehouse', limit: 3 }),
      expect.objectContaining({
        name: 'partner-api',
        limit: 100,
        rate: { limit: 1, periodSeconds: 10, burst: 1 },
      }),
    ]);
  });
});

describe('pipelines over the API', () => {
  const steps = [
    { id: 'extract', type: 'work' },
    { id: 'transform', type: 'work', dependsOn: ['extract'], input: { fromStep: 'extract' } },
    { id: 'load', type: 'work', dependsOn: ['transform'], triggerRule: 'all_done' },
  ];

  it('creates, reads and cancels a pipeline', async () => {
    const created = await call('POST /pipelines', '/pipelines', {
      name: 'etl',
      steps,
      idempotencyKey: 'etl-1',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'etl', state: 'RUNNING', counts: { QUEUED: 1, WAITING: 2 } });
    const id = created.body.id as string;
    expect(
      (await call('POST /pipelines', '/pipelines', { name: 'etl', steps, idempotencyKey: 'etl-1' })).status,
    ).toBe(200);

    const read = await call('GET /pipelines/{id}', `/pipelines/${id}`, undefined, { id });
    expect(read.body.steps.map((s: { id: string; state: string }) => [s.id, s.state])).toEqual([
      ['extract', 'QUEUED'],
      ['transform', 'WAITING'],
      ['load', 'WAITING'],
    ]);
    const cancelled = await call('POST /pipelines/{id}/cancel', `/pipelines/${id}/cancel`, undefined, { id });
    expect(cancelled).toMatchObject({ status: 200, body: { state: 'CANCELLED', counts: { CANCELLED: 3 } } });
    expect(
      await call('POST /pipelines/{id}/cancel', `/pipelines/${id}/cancel`, undefined, { id }),
    ).toMatchObject({
      status: 409,
      body: { error: 'PipelineFinished' },
    });
  });

  it('answers cycles, unknown steps and unknown pipelines with 4xx naming them', async () => {
    const cycle = await call('POST /pipelines', '/pipelines', {
      steps: [
        { id: 'a', type: 'work', dependsOn: ['b'] },
        { id: 'b', type: 'work', dependsOn: ['a'] },
      ],
    });
    expect(cycle).toMatchObject({ status: 400, body: { error: 'DependencyCycle' } });
    expect(cycle.body.message).toMatch(/a → b → a/);
    expect(
      await call('POST /pipelines', '/pipelines', {
        steps: [{ id: 'a', type: 'work', dependsOn: ['ghost'] }],
      }),
    ).toMatchObject({
      status: 400,
      body: { error: 'UnknownStepReference', details: { issues: [{ steps: ['ghost'] }] } },
    });
    expect(await call('POST /pipelines', '/pipelines', { steps: [{ id: 'a', type: 'nope' }] })).toMatchObject(
      { status: 400, body: { error: 'InvalidPipelineSteps', details: { steps: [{ step: 'a' }] } } },
    );
    const ghost = '01KAQZ0000000000000000000A';
    expect(await call('GET /pipelines/{id}', `/pipelines/${ghost}`, undefined, { id: ghost })).toMatchObject({
      status: 404,
      body: { error: 'PipelineNotFound' },
    });
    expect(await call('GET /pipelines/{id}', '/pipelines/x', undefined, { id: 'x' })).toMatchObject({
      status: 400,
      body: { error: 'InvalidPipelineId' },
    });
  });
});
