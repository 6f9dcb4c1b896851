import {
  BatchClient,
  DescribeJobsCommand,
  ListJobsCommand,
  SubmitJobCommand,
  TerminateJobCommand,
} from '@aws-sdk/client-batch';
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, SQSBatchResponse } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { catalogData } from '../../config/offpeak.config.js';
import { createApiHandler } from '../../lambdas/api.js';
import { createDeadLetterIngestHandler } from '../../lambdas/dead-letters.js';
import { createDispatcherHandler } from '../../lambdas/dispatcher.js';
import { createIntakeHandler } from '../../lambdas/intake.js';
import { createReconcilerHandler } from '../../lambdas/reconciler.js';
import { createTrackerHandler } from '../../lambdas/tracker.js';
import { createAwsDeps } from '../../src/aws/deps.js';
import { EnvVars } from '../../src/aws/table-schema.js';
import type { DeadLetter } from '../../src/core/dead-letter.js';
import type { OffpeakDeps } from '../../src/core/deps.js';
import type { Job } from '../../src/core/job.js';
import { queueSlotCounter } from '../../src/core/services/slots.js';
import { createLambdaContext } from '../../src/local/lambda-context.js';
import type { EnsuredResources } from '../../src/local/resources.js';
import { batchEvent, httpEvent, sqsEvent } from '../support/aws-events.js';
import { useEmulators } from '../support/emulators.js';
import { ensureTestResources, handlerEnv } from '../support/handler-env.js';
import { RecordingMetrics } from '../unit/support/fakes.js';

// "Every state-changing handler is safe to run twice on the same input" (issue 6), proven handler by handler: the
// second run of the same input must leave the store exactly as the first left it (every job item at the same
// version, the same dead letters, the same slot counters) and repeat no external effect (Batch submit, event).
// DynamoDB, SQS and S3 are emulators over the wire; Batch, EventBridge and CloudWatch Logs are mocked.
const batch = mockClient(BatchClient);
const eventbridge = mockClient(EventBridgeClient);
const cloudwatchLogs = mockClient(CloudWatchLogsClient);
const emulators = useEmulators();
const context = createLambdaContext({ functionName: 'offpeak-twice' });

let resources: EnsuredResources;
let deps: OffpeakDeps;
let metrics: RecordingMetrics;

beforeAll(async () => {
  const { clients } = emulators();
  resources = await ensureTestResources(clients);
  metrics = new RecordingMetrics();
  deps = createAwsDeps(
    handlerEnv(resources, catalogData, {
      [EnvVars.bucket]: resources.bucketName,
      [EnvVars.intakeQueueUrl]: resources.queues.intake.url,
      [EnvVars.eventsQueueUrl]: resources.queues.events.url,
      [EnvVars.jobLogGroups]: JSON.stringify({ hello: '/offpeak/jobs/hello' }),
    }),
    {
      clients: {
        ...clients,
        batch: new BatchClient({ region: 'us-east-1' }),
        eventbridge: new EventBridgeClient({ region: 'us-east-1' }),
        logs: new CloudWatchLogsClient({ region: 'us-east-1' }),
      },
      metrics,
    },
  );
});

let batchIds = 0;
beforeEach(() => {
  batch.reset();
  eventbridge.reset();
  cloudwatchLogs.reset();
  batch
    .on(SubmitJobCommand)
    .callsFake((input: { jobName: string }) => ({ jobId: `batch-${++batchIds}`, jobName: input.jobName }));
  batch.on(TerminateJobCommand).resolves({});
  batch.on(DescribeJobsCommand).resolves({ jobs: [] });
  batch.on(ListJobsCommand).resolves({ jobSummaryList: [] });
  eventbridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: '1' }] });
  cloudwatchLogs
    .on(GetLogEventsCommand)
    .resolves({ events: [{ message: 'hello, twice' }, { message: 'exit 3' }] });
});

const api = () => createApiHandler(() => deps);

/** Everything the store holds that a handler may change. */
async function snapshot(): Promise<{ jobs: Job[]; deadLetters: DeadLetter[]; slots: number[] }> {
  const jobs: Job[] = [];
  let cursor: string | undefined;
  do {
    const page = await deps.store.listJobs({ limit: 100, ...(cursor ? { cursor } : {}) });
    jobs.push(...page.items);
    cursor = page.cursor;
  } while (cursor);
  const deadLetters: DeadLetter[] = [];
  for (const status of ['open', 'redriven'] as const) {
    deadLetters.push(...(await deps.deadLetters.listDeadLetters({ status, limit: 100 })).items);
  }
  const slots = await Promise.all(
    deps.catalog.queues().map(async (q) => (await deps.store.slotUsage(queueSlotCounter(q.name))).used),
  );
  return {
    jobs: jobs.sort((a, b) => a.id.localeCompare(b.id)),
    deadLetters: deadLetters.sort((a, b) => a.id.localeCompare(b.id)),
    slots,
  };
}

/** External effects so far: Batch submissions and terminations, published events. */
function effects() {
  return {
    submits: batch.commandCalls(SubmitJobCommand).length,
    terminates: batch.commandCalls(TerminateJobCommand).length,
    events: eventbridge.commandCalls(PutEventsCommand).length,
  };
}

/**
 * Runs `handler` twice on the same input. The first run must change something (`changed`), the second nothing: the
 * same store, no further external effect. @returns both results.
 */
async function twice<R>(run: () => Promise<R>, changed = true): Promise<[R, R]> {
  const before = await snapshot();
  const first = await run();
  const afterFirst = await snapshot();
  const effectsAfterFirst = effects();
  if (changed) expect(afterFirst).not.toEqual(before);
  const second = await run();
  expect(await snapshot()).toEqual(afterFirst);
  expect(effects()).toEqual(effectsAfterFirst);
  return [first, second];
}

async function call(
  event: APIGatewayProxyEventV2,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const result = (await api()(event, context)) as APIGatewayProxyStructuredResultV2;
  return { status: result.statusCode ?? 0, body: result.body ? JSON.parse(result.body) : {} };
}

async function submitted(body: Record<string, unknown>): Promise<Job> {
  const { body: job } = await call(httpEvent('POST /jobs', { body: JSON.stringify(body) }));
  await createDispatcherHandler(() => deps)({ source: 'aws.events' }, context);
  return (await deps.store.getJob(String(job.id)))!;
}

const tracker = () => createTrackerHandler(() => deps);
const track = (job: Job, status: string, extra: Record<string, unknown> = {}) =>
  tracker()(
    sqsEvent([batchEvent(job, status, extra)], resources.queues.events.arn, [`ev-${job.id}-${status}`]),
    context,
  );

describe('every state-changing handler, run twice on the same input', () => {
  it('POST /jobs with an idempotency key: 201, then 200 with the same job', async () => {
    const event = httpEvent('POST /jobs', {
      body: JSON.stringify({ type: 'hello', idempotencyKey: 'twice-1' }),
    });
    const [first, second] = await twice(() => call(event));
    expect([first.status, second.status]).toEqual([201, 200]);
    expect(second.body.id).toBe(first.body.id);
  });

  it('the intake handler, same SQS message twice: one job', async () => {
    const event = sqsEvent(
      [JSON.stringify({ type: 'hello', params: { name: 'intake' } })],
      resources.queues.intake.arn,
    );
    const [first, second] = await twice(() => createIntakeHandler(() => deps)(event, context));
    expect(first).toEqual({ batchItemFailures: [] });
    expect(second).toEqual({ batchItemFailures: [] });
  });

  it('the dispatcher, same nudge twice: each job submitted to Batch once', async () => {
    await call(
      httpEvent('POST /jobs', { body: JSON.stringify({ type: 'hello', idempotencyKey: 'twice-dispatch' }) }),
    );
    const event = sqsEvent(
      [JSON.stringify({ kind: 'nudge', queue: 'normal' })],
      resources.queues.dispatch.arn,
    );
    await twice(() => createDispatcherHandler(() => deps)(event, context));
    expect(batch.commandCalls(SubmitJobCommand).length).toBeGreaterThan(0);
  });

  it('the dispatcher on its schedule, twice: nothing left to do the second time', async () => {
    await call(
      httpEvent('POST /jobs', { body: JSON.stringify({ type: 'hello', idempotencyKey: 'twice-tick' }) }),
    );
    await twice(() => createDispatcherHandler(() => deps)({ source: 'aws.events' }, context));
  });

  it('the tracker, same RUNNING / SUCCEEDED / FAILED event twice: one state change and one event each', async () => {
    const ok = await submitted({ type: 'hello', idempotencyKey: 'twice-ok' });
    await twice(() => track(ok, 'RUNNING', { startedAt: Date.now() }));
    await twice(() => track(ok, 'SUCCEEDED', { container: { exitCode: 0 } }));
    expect((await deps.store.getJob(ok.id))?.state).toBe('SUCCEEDED');

    const bad = await submitted({ type: 'hello', idempotencyKey: 'twice-bad', params: { exitCode: 3 } });
    const [first] = await twice(() =>
      track(bad, 'FAILED', { container: { exitCode: 3, logStreamName: 'hello/default/abc' } }),
    );
    expect(first as SQSBatchResponse).toEqual({ batchItemFailures: [] });
    const failed = (await deps.store.getJob(bad.id))!;
    expect(failed).toMatchObject({ state: 'FAILED', deadLetterId: `job-${bad.id}-1` });
    expect(await deps.deadLetters.getDeadLetter(`job-${bad.id}-1`)).toMatchObject({
      logLines: ['hello, twice', 'exit 3'],
    });
    expect(metrics.total('DeadLetters', { Kind: 'job' })).toBe(1);
  });

  it('POST /jobs/{id}/cancel twice: CANCELLED, then the same cancelled job (Batch terminated once)', async () => {
    const job = await submitted({ type: 'hello', idempotencyKey: 'twice-cancel' });
    const event = httpEvent('POST /jobs/{id}/cancel', {
      path: `/jobs/${job.id}/cancel`,
      pathParameters: { id: job.id },
    });
    const [first, second] = await twice(() => call(event));
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(second.body).toEqual(first.body);
    expect(batch.commandCalls(TerminateJobCommand)).toHaveLength(1);
  });

  it('POST /jobs/{id}/retry twice: back in the queue, then 409 JobNotRetryable', async () => {
    const job = await submitted({ type: 'hello', idempotencyKey: 'twice-retry', params: { exitCode: 1 } });
    await track(job, 'FAILED', { container: { exitCode: 1 } });
    const event = httpEvent('POST /jobs/{id}/retry', {
      path: `/jobs/${job.id}/retry`,
      pathParameters: { id: job.id },
    });
    const [first, second] = await twice(() => call(event));
    expect(first).toMatchObject({ status: 200, body: { state: 'QUEUED', maxAttempts: 2 } });
    expect(second).toMatchObject({ status: 409, body: { error: 'JobNotRetryable' } });
    // The retry resolved the job's dead letter.
    expect((await deps.deadLetters.getDeadLetter(`job-${job.id}-1`))?.status).toBe('redriven');
  });

  it('POST /dead-letters/redrive twice: redriven, then 409 NotDeadLettered', async () => {
    const job = await submitted({ type: 'hello', idempotencyKey: 'twice-redrive', params: { exitCode: 2 } });
    await track(job, 'FAILED', { container: { exitCode: 2 } });
    const event = httpEvent('POST /dead-letters/redrive', {
      body: JSON.stringify({ ids: [`job-${job.id}-1`] }),
    });
    const [first, second] = await twice(() => call(event));
    expect(first).toMatchObject({ status: 200, body: { redriven: [{ jobId: job.id, attempt: 2 }] } });
    expect(second).toMatchObject({ status: 409, body: { error: 'NotDeadLettered' } });
  });

  it('the dead-letter ingester, same DLQ message twice: one dead letter', async () => {
    const event = sqsEvent(['{"type": "hello", "params": 42}'], resources.queues.intake.dlqArn, [
      'dlq-twice-1',
    ]);
    const [first] = await twice(() =>
      createDeadLetterIngestHandler(
        () => deps,
        () => 'intake',
      )(event, context),
    );
    expect(first).toEqual({ batchItemFailures: [] });
    expect(await deps.deadLetters.getDeadLetter('msg-dlq-twice-1')).toMatchObject({
      type: 'hello',
      kind: 'message',
    });
  });

  it('DELETE /dead-letters/{id} twice: 204, then 404', async () => {
    const event = httpEvent('DELETE /dead-letters/{id}', {
      path: '/dead-letters/msg-dlq-twice-1',
      pathParameters: { id: 'msg-dlq-twice-1' },
    });
    const [first, second] = await twice(() => call(event));
    expect(first.status).toBe(204);
    expect(second).toMatchObject({ status: 404, body: { error: 'DeadLetterNotFound' } });
  });

  it('DELETE /idempotency-keys/{key} twice: 204, then 404 (a key is not a job: the store is unchanged)', async () => {
    const event = httpEvent('DELETE /idempotency-keys/{key}', {
      path: '/idempotency-keys/twice-1',
      pathParameters: { key: 'twice-1' },
      query: { type: 'hello' },
    });
    const [first, second] = await twice(() => call(event), false);
    expect(first.status).toBe(204);
    expect(second).toMatchObject({ status: 404, body: { error: 'IdempotencyKeyNotFound' } });
    // Released: the same submit makes a new job now.
    const again = await call(
      httpEvent('POST /jobs', { body: JSON.stringify({ type: 'hello', idempotencyKey: 'twice-1' }) }),
    );
    expect(again.status).toBe(201);
  });

  it('the reconciler twice: whatever the first pass repairs, the second finds nothing', async () => {
    const job = await submitted({ type: 'hello', idempotencyKey: 'twice-lost' });
    // Batch forgot the job (DescribeJobs returns nothing) and the job is old enough to be checked.
    const stale = { ...job, stateChangedAt: new Date(Date.now() - 3_600_000).toISOString() };
    await deps.store.updateJob(stale, job.version);
    const reconciler = createReconcilerHandler(() => deps);
    const [first, second] = await twice(() => reconciler({}, context));
    expect(first.lost).toBeGreaterThanOrEqual(1);
    expect(second).toMatchObject({ lost: 0, requeued: 0, adopted: 0, refreshed: 0, effectsCompleted: 0 });
    expect((await deps.store.getJob(job.id))?.repairs).toEqual([
      expect.objectContaining({ repair: 'failed-lost-executor-job' }),
    ]);
  });
});
