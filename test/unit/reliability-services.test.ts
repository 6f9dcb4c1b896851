import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createDeadLetterIngestHandler } from '../../lambdas/dead-letters.js';
import { createIntakeHandler } from '../../lambdas/intake.js';
import { buildCatalogData, Catalog } from '../../src/core/catalog.js';
import { CrashPoint } from '../../src/core/crash-point.js';
import type { Job } from '../../src/core/job.js';
import { executorJobName } from '../../src/core/job-name.js';
import { JobState } from '../../src/core/job-state.js';
import { defineJobType } from '../../src/core/job-type.js';
import { defaultQueues } from '../../src/core/queue-spec.js';
import { SubmitRequestSchema } from '../../src/core/requests.js';
import { cancelJob } from '../../src/core/services/cancel.js';
import {
  deleteDeadLetter,
  listDeadLetters,
  redriveDeadLetters,
} from '../../src/core/services/dead-letters.js';
import { dispatchAll, dispatchQueue, releaseRetry } from '../../src/core/services/dispatch.js';
import { releaseIdempotencyKey } from '../../src/core/services/idempotency-keys.js';
import { reconcile } from '../../src/core/services/reconcile.js';
import { retryJob } from '../../src/core/services/retry.js';
import { queueSlotCounter } from '../../src/core/services/slots.js';
import { submitJob } from '../../src/core/services/submit.js';
import { applyExecutorUpdate } from '../../src/core/services/track.js';
import { createLambdaContext } from '../../src/local/lambda-context.js';
import type { ExecutorJob, ExecutorStatus } from '../../src/ports/executor.js';
import { SimulatedCrash, type TestDeps, testDeps } from './support/fakes.js';

// Job types for the reliability rules: a flaky one that asks for later retries with exit code 75, a one-shot one,
// one keyed by payload hash with a one-hour retention, and one that waits on others.
const catalog = new Catalog(
  buildCatalogData({
    jobTypes: [
      defineJobType({
        name: 'flaky',
        image: 'img',
        command: ['run'],
        params: z.object({ n: z.number().optional() }).strict(),
        retry: { attempts: 3, baseDelaySeconds: 10, maxDelaySeconds: 60, retryAfterExitCodes: [75] },
      }),
      defineJobType({ name: 'once', image: 'img', command: ['run'], retry: { attempts: 1 } }),
      defineJobType({
        name: 'hashy',
        image: 'img',
        command: ['run'],
        idempotency: 'payload-hash',
        idempotencyRetentionHours: 1,
        retry: { attempts: 1 },
      }),
    ],
    queues: defaultQueues,
  }),
);

const api = { kind: 'api', source: 'POST /jobs' } as const;
const context = createLambdaContext({ functionName: 'offpeak-test' });

let deps: TestDeps;
beforeEach(() => {
  deps = testDeps({ catalog });
});

async function submit(body: Record<string, unknown>): Promise<Job> {
  return (await submitJob(deps, SubmitRequestSchema.parse(body), api)).job;
}

async function reload(id: string): Promise<Job> {
  const job = await deps.store.getJob(id);
  if (!job) throw new Error(`missing ${id}`);
  return job;
}

/** Submits and dispatches one job; returns it SUBMITTED. */
async function running(body: Record<string, unknown> = { type: 'flaky' }): Promise<Job> {
  const job = await submit(body);
  await dispatchQueue(deps, job.queue);
  return reload(job.id);
}

function update(job: Job, status: ExecutorStatus, extra: Partial<ExecutorJob> = {}): ExecutorJob {
  return {
    executorJobId: job.executorJobId ?? '?',
    jobName: executorJobName(job.type, job.id),
    status,
    ...extra,
  };
}

/** Ends the job's current attempt as FAILED with `exitCode`. */
async function fail(job: Job, exitCode: number, random = () => 0.5): Promise<Job> {
  const current = await reload(job.id);
  await applyExecutorUpdate(
    deps,
    update(current, 'FAILED', { exitCode, statusReason: 'Essential container in task exited' }),
    random,
  );
  return reload(job.id);
}

function sqsRecord(body: string, extra: Partial<SQSRecord> = {}): SQSRecord {
  const id = extra.messageId ?? `m-${Math.random().toString(36).slice(2)}`;
  return {
    messageId: id,
    receiptHandle: `rh-${id}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '1',
      SenderId: 'x',
      ApproximateFirstReceiveTimestamp: '1',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:offpeak-intake',
    awsRegion: 'us-east-1',
    ...extra,
  };
}

describe('retry after: the job asks for a delay', () => {
  it('waits the delay the marker asks for, then runs the next attempt', async () => {
    const job = await running();
    deps.retryMarkers.leave(job.id, 1, { retryAfterSeconds: 120, reason: '429 from the rates API' });
    const waiting = await fail(job, 75);
    expect(waiting.state).toBe('RETRY_WAIT');
    expect(Date.parse(waiting.retryAt!) - deps.clock.now().getTime()).toBe(120_000);
    expect(waiting.history.at(-1)?.reason).toMatch(/asked to retry after 120 s \(429 from the rates API\)/);
    expect(
      deps.dispatchQueue.messages.find((m) => (m.body as { kind: string }).kind === 'retry-release'),
    ).toEqual({
      body: { kind: 'retry-release', jobId: job.id },
      options: { delaySeconds: 120 },
    });
    // The dispatcher told the job where its marker goes.
    expect(deps.executor.submitted[0]?.environment.OFFPEAK_RETRY_MARKER).toBe(`memory://markers/${job.id}/1`);
  });

  it('uses the backoff for a retry-after exit code without a marker', async () => {
    const waiting = await fail(await running(), 75);
    expect(Date.parse(waiting.retryAt!) - deps.clock.now().getTime()).toBe(5_000);
    expect(waiting.history.at(-1)?.reason).toMatch(/exit code 75 asks for a later retry/);
  });

  it('reads the marker of the attempt that failed, not an earlier one', async () => {
    const job = await running();
    deps.retryMarkers.leave(job.id, 1, { retryAfterSeconds: 30 });
    await fail(job, 75);
    deps.clock.advance(30_000);
    await releaseRetry(deps, job.id);
    await dispatchQueue(deps, 'normal');
    const second = await fail(await reload(job.id), 75);
    expect(second.attempt).toBe(2);
    expect(Date.parse(second.retryAt!) - deps.clock.now().getTime()).toBe(10_000); // backoff of retry 2
  });

  it('re-arms delayed messages for a wait longer than SQS allows (15 minutes), then releases on time', async () => {
    const job = await running();
    deps.retryMarkers.leave(job.id, 1, { retryAfterSeconds: 3600 });
    await fail(job, 75);
    const delays = () =>
      deps.dispatchQueue.messages
        .filter((m) => (m.body as { kind: string }).kind === 'retry-release')
        .map((m) => m.options?.delaySeconds);
    expect(delays()).toEqual([900]);
    for (let rearmed = 1; rearmed <= 3; rearmed++) {
      deps.clock.advance(900_000);
      expect((await releaseRetry(deps, job.id))?.state).toBe('RETRY_WAIT');
      expect(delays()).toEqual(Array.from({ length: rearmed + 1 }, () => 900));
    }
    deps.clock.advance(900_000);
    expect((await releaseRetry(deps, job.id))?.state).toBe('QUEUED');
    // 4 × 900 s = 3600 s: released at the fourth message, not before.
    expect((await reload(job.id)).state).toBe('QUEUED');
  });

  it('never lets a marker retry a job past its attempts or a non-retryable failure', async () => {
    const job = await running({ type: 'once' });
    deps.retryMarkers.leave(job.id, 1, { retryAfterSeconds: 5 });
    expect((await fail(job, 75)).state).toBe('FAILED');
  });
});

describe('job dead letters', () => {
  it('records a job that failed its last attempt, with its context, log tail and a metric, once', async () => {
    const job = await running({ type: 'once' });
    deps.logs.lines.set(job.executorJobId!, ['starting', 'connecting to db', 'ERROR: connection refused']);
    const failed = await fail(job, 3);
    expect(failed).toMatchObject({ state: 'FAILED', deadLetterId: `job-${job.id}-1`, effectsPending: false });

    const record = await deps.deadLetters.getDeadLetter(`job-${job.id}-1`);
    expect(record).toMatchObject({
      kind: 'job',
      status: 'open',
      type: 'once',
      jobId: job.id,
      createdAt: failed.finishedAt,
      reason: expect.stringMatching(/attempt 1 of 1 failed; no attempts left.*ExitCode3/),
      logLines: ['starting', 'connecting to db', 'ERROR: connection refused'],
      job: { attempt: 1, maxAttempts: 1, exitCode: 3, params: {}, trigger: api },
    });
    expect(record?.job?.attempts).toEqual([
      expect.objectContaining({ attempt: 1, exitCode: 3, outcome: 'FAILED' }),
    ]);
    expect(deps.metrics.total('DeadLetters', { Kind: 'job' })).toBe(1);
    expect(deps.metrics.total('JobsDeadLettered', { JobType: job.type })).toBe(1);

    // A redelivered FAILED event (or the reconciler) runs the effects again: still one dead letter.
    await deps.store.updateJob({ ...(await reload(job.id)), effectsPending: true }, failed.version);
    await applyExecutorUpdate(deps, update(failed, 'FAILED', { exitCode: 3 }));
    expect(deps.deadLetters.records.size).toBe(1);
    expect(deps.metrics.total('DeadLetters', { Kind: 'job' })).toBe(1);
  });

  it('says why the log lines are missing when the log cannot be read', async () => {
    deps.logs.failWith = new Error('AccessDenied');
    const failed = await fail(await running({ type: 'once' }), 1);
    const record = await deps.deadLetters.getDeadLetter(failed.deadLetterId!);
    expect(record?.logLines).toBeUndefined();
    expect(record?.logError).toMatch(/could not be read: AccessDenied/);
  });

  it('does not dead-letter a failure that will be retried, nor a cancelled job', async () => {
    await fail(await running(), 1);
    const queued = await submit({ type: 'once' });
    await cancelJob(deps, queued.id);
    expect(deps.deadLetters.records.size).toBe(0);
  });

  it('dead-letters a job whose submit failed for good', async () => {
    const { NonRetryableError } = await import('../../src/core/errors.js');
    const job = await submit({ type: 'once' });
    deps.executor.failNextSubmit = new NonRetryableError('BadDefinition', 'no such job definition');
    await dispatchQueue(deps, 'normal');
    const record = await deps.deadLetters.getDeadLetter(`job-${job.id}-0`);
    expect(record).toMatchObject({
      reason: expect.stringMatching(/BadDefinition/),
      logError: expect.any(String),
    });
  });
});

describe('redrive', () => {
  async function deadJob(type = 'once', params: Record<string, unknown> = {}): Promise<Job> {
    return fail(await running({ type, params }), 3);
  }

  it('puts a dead job back as a new attempt series: same job, history kept, linked to the dead letter', async () => {
    const dead = await deadJob('flaky');
    // flaky has 3 attempts: fail them all.
    let job = dead;
    while (job.state !== 'FAILED') {
      deps.clock.advance(60_000);
      await releaseRetry(deps, job.id);
      await dispatchQueue(deps, 'normal');
      job = await fail(await reload(job.id), 3);
    }
    expect(job).toMatchObject({ state: 'FAILED', attempt: 3, deadLetterId: `job-${job.id}-3` });

    const result = await redriveDeadLetters(deps, { ids: [`job-${job.id}-3`] }, 'arn:aws:iam::1:user/ops');
    expect(result).toEqual({
      redriven: [{ id: `job-${job.id}-3`, kind: 'job', jobId: job.id, attempt: 4 }],
      skipped: [],
      failed: [],
      more: false,
    });
    const requeued = await reload(job.id);
    expect(requeued).toMatchObject({ state: 'QUEUED', attempt: 3, maxAttempts: 6 });
    expect(requeued.finishedAt).toBeUndefined();
    expect(requeued.error).toBeUndefined();
    expect(requeued.retries).toEqual([
      expect.objectContaining({
        fromAttempt: 3,
        from: 'FAILED',
        cause: 'redrive',
        deadLetterId: `job-${job.id}-3`,
        actor: 'arn:aws:iam::1:user/ops',
      }),
    ]);
    expect(requeued.history.map((h) => h.state)).toEqual(expect.arrayContaining(['FAILED', 'QUEUED']));
    expect(requeued.history.at(-1)?.reason).toBe(`redriven from dead letter job-${job.id}-3`);
    expect(await deps.deadLetters.getDeadLetter(`job-${job.id}-3`)).toMatchObject({
      status: 'redriven',
      redrive: { attempt: 4, actor: 'arn:aws:iam::1:user/ops' },
    });

    // The new series has the type's full attempts again: attempt 4 failing is retried, not final.
    await dispatchQueue(deps, 'normal');
    const fourth = await reload(job.id);
    expect(fourth).toMatchObject({ state: 'SUBMITTED', attempt: 4 });
    expect((await fail(fourth, 3)).state).toBe('RETRY_WAIT');
  });

  it('refuses ids that are unknown or already redriven, and redrives nothing then', async () => {
    const a = await deadJob();
    const b = await deadJob();
    await expect(
      redriveDeadLetters(deps, { ids: [a.deadLetterId!, 'job-01KAQZ0000000000000000000A-1'] }),
    ).rejects.toMatchObject({
      code: 'DeadLetterNotFound',
      details: { missing: ['job-01KAQZ0000000000000000000A-1'] },
    });
    expect((await reload(a.id)).state).toBe('FAILED');

    await redriveDeadLetters(deps, { ids: [a.deadLetterId!] });
    await expect(redriveDeadLetters(deps, { ids: [a.deadLetterId!, b.deadLetterId!] })).rejects.toMatchObject(
      {
        code: 'NotDeadLettered',
        message: expect.stringMatching(/already redriven/),
      },
    );
    expect((await reload(b.id)).state).toBe('FAILED');
  });

  it('completes a redrive a crash cut short, without a second attempt series', async () => {
    const dead = await deadJob();
    deps.crashPoints.armed.add(CrashPoint.RedriveAfterRequeue);
    const first = await redriveDeadLetters(deps, { ids: [dead.deadLetterId!] });
    expect(first.failed).toEqual([expect.objectContaining({ id: dead.deadLetterId })]);
    expect((await deps.deadLetters.getDeadLetter(dead.deadLetterId!))?.status).toBe('open');

    const again = await redriveDeadLetters(deps, { ids: [dead.deadLetterId!] });
    expect(again.redriven).toEqual([expect.objectContaining({ id: dead.deadLetterId, attempt: 2 })]);
    const job = await reload(dead.id);
    expect(job.retries).toHaveLength(1);
    expect(job.history.filter((h) => h.state === 'QUEUED')).toHaveLength(2); // submitted, redriven
  });

  it('redrives by filter (type, kind, time range) in bounded batches', async () => {
    const onceA = await deadJob('once');
    deps.clock.advance(60_000);
    const onceB = await deadJob('once');
    deps.clock.advance(60_000);
    await deadJob('once');
    const hashy = await deadJob('hashy', { x: 1 });
    const page = await listDeadLetters(deps, { status: 'open', type: 'once', limit: 10 });
    expect(page.items).toHaveLength(3);
    expect(page.items[0]!.createdAt >= page.items[2]!.createdAt).toBe(true); // newest first

    const bounded = await redriveDeadLetters(deps, { type: 'once', limit: 2 });
    expect(bounded.redriven).toHaveLength(2);
    expect(bounded.more).toBe(true);
    const rest = await redriveDeadLetters(deps, { type: 'once', limit: 2 });
    expect(rest).toMatchObject({ more: false });
    expect(rest.redriven).toHaveLength(1);
    expect((await reload(hashy.id)).state).toBe('FAILED');

    const window = await listDeadLetters(deps, {
      status: 'redriven',
      from: new Date(onceA.finishedAt!),
      to: new Date(onceB.finishedAt!),
      limit: 10,
    });
    expect(window.items.map((i) => i.jobId)).toEqual([onceA.id]);
  });

  it('leaves a dead letter whose job was retried meanwhile in skipped, with the reason', async () => {
    const dead = await deadJob();
    // Retried by hand: the dead letter is marked redriven on the way…
    await retryJob(deps, dead.id);
    expect((await deps.deadLetters.getDeadLetter(dead.deadLetterId!))?.status).toBe('redriven');
    // … so a filter redrive finds nothing to do.
    expect(await redriveDeadLetters(deps, { kind: 'job', limit: 10 })).toMatchObject({
      redriven: [],
      skipped: [],
    });
  });

  it('deletes a dead letter, and answers NotFound for one that does not exist', async () => {
    const dead = await deadJob();
    await deleteDeadLetter(deps, dead.deadLetterId!);
    await expect(deleteDeadLetter(deps, dead.deadLetterId!)).rejects.toMatchObject({
      code: 'DeadLetterNotFound',
    });
  });
});

describe('message dead letters', () => {
  const intake = () => createIntakeHandler(() => deps);

  it('dead-letters a poison intake message at once, with its reason, and does not retry it', async () => {
    const records = [
      sqsRecord('{"type": "once",', { messageId: 'm-json' }),
      sqsRecord(JSON.stringify({ type: 'nope' }), { messageId: 'm-type' }),
      sqsRecord(JSON.stringify({ type: 'flaky', params: { n: 'x' } }), { messageId: 'm-params' }),
    ];
    const response = await intake()({ Records: records } as SQSEvent, context);
    expect(response).toEqual({ batchItemFailures: [] });
    expect(await deps.deadLetters.getDeadLetter('msg-m-json')).toMatchObject({
      kind: 'message',
      reason: expect.stringMatching(/^InvalidMessage: /),
      message: { source: 'intake', redriveTo: 'intake', messageId: 'm-json', body: '{"type": "once",' },
    });
    expect(await deps.deadLetters.getDeadLetter('msg-m-type')).toMatchObject({
      type: 'nope',
      reason: expect.stringMatching(/^UnknownJobType: /),
    });
    expect(await deps.deadLetters.getDeadLetter('msg-m-params')).toMatchObject({
      type: 'flaky',
      reason: expect.stringMatching(/^InvalidParams: /),
    });
    expect(deps.store.jobs.size).toBe(0);
    expect(deps.metrics.total('DeadLetters', { Kind: 'message' })).toBe(3);
  });

  it('retries a transient failure and notes its error; the DLQ ingester records it with that reason', async () => {
    const broken = {
      ...deps,
      store: Object.assign(Object.create(deps.store), {
        claimIdempotencyKey: async () => {
          throw new Error('DynamoDB is down');
        },
      }),
    } as TestDeps;
    const record = sqsRecord(JSON.stringify({ type: 'once' }), {
      messageId: 'm-down',
      attributes: {
        ApproximateReceiveCount: '5',
        SentTimestamp: '1',
        SenderId: 'x',
        ApproximateFirstReceiveTimestamp: '1',
      },
    });
    const response = await createIntakeHandler(() => broken)({ Records: [record] } as SQSEvent, context);
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-down' }] });
    expect(await deps.deadLetters.messageFailure('m-down')).toMatchObject({
      error: { message: 'DynamoDB is down' },
      receiveCount: 5,
    });

    // SQS moves it to the DLQ after maxReceiveCount; the ingester records it (twice delivered: one record).
    const ingest = createDeadLetterIngestHandler(
      () => deps,
      () => 'intake',
    );
    const dlqRecord = { ...record, attributes: { ...record.attributes, ApproximateReceiveCount: '6' } };
    expect(await ingest({ Records: [dlqRecord] } as SQSEvent, context)).toEqual({ batchItemFailures: [] });
    expect(await ingest({ Records: [dlqRecord] } as SQSEvent, context)).toEqual({ batchItemFailures: [] });
    expect(await deps.deadLetters.getDeadLetter('msg-m-down')).toMatchObject({
      reason: 'DynamoDB is down',
      type: 'once',
      message: { receiveCount: 6, redriveTo: 'intake' },
    });
    expect(deps.metrics.total('DeadLetters', { Kind: 'message' })).toBe(1);
  });

  it('redrives a dead intake message to its queue so that it makes exactly one job, however often', async () => {
    const record = sqsRecord(JSON.stringify({ type: 'once' }), { messageId: 'm-origin' });
    const ingest = createDeadLetterIngestHandler(
      () => deps,
      () => 'intake',
    );
    await ingest({ Records: [record] } as SQSEvent, context);
    const result = await redriveDeadLetters(deps, { ids: ['msg-m-origin'] });
    expect(result.redriven).toEqual([{ id: 'msg-m-origin', kind: 'message', queue: 'intake' }]);
    const sent = deps.sourceQueues.intake.messages;
    expect(sent).toEqual([
      { body: { type: 'once' }, options: { attributes: { 'offpeak-redrive-of': 'm-origin' } } },
    ]);

    // Delivered twice, as new messages (new ids) carrying the origin: one job, keyed by the original message id.
    const redriven = (id: string) =>
      sqsRecord(JSON.stringify(sent[0]?.body), {
        messageId: id,
        messageAttributes: { 'offpeak-redrive-of': { stringValue: 'm-origin', dataType: 'String' } },
      });
    await intake()({ Records: [redriven('m-new-1'), redriven('m-new-2')] } as SQSEvent, context);
    expect([...deps.store.jobs.values()].map((j) => j.idempotencyKey)).toEqual(['once#sqs:m-origin']);
  });

  it('sends an undelivered Batch event back to the events queue, and refuses to redrive a missed tick', async () => {
    const ingest = createDeadLetterIngestHandler(
      () => deps,
      () => 'eventbridge',
    );
    const batchEvent = {
      'detail-type': 'Batch Job State Change',
      source: 'aws.batch',
      detail: { jobName: 'x', jobId: 'y', status: 'RUNNING' },
    };
    const tick = { 'detail-type': 'Scheduled Event', source: 'aws.events', detail: {} };
    const eventBridgeError = {
      ERROR_CODE: { stringValue: 'SQSThrottled', dataType: 'String' },
      ERROR_MESSAGE: { stringValue: 'throttled', dataType: 'String' },
    };
    await ingest(
      {
        Records: [
          sqsRecord(JSON.stringify(batchEvent), { messageId: 'eb-1', messageAttributes: eventBridgeError }),
          sqsRecord(JSON.stringify(tick), { messageId: 'eb-2' }),
        ],
      } as SQSEvent,
      context,
    );
    expect(await deps.deadLetters.getDeadLetter('msg-eb-1')).toMatchObject({
      reason: 'EventBridge could not deliver it: SQSThrottled: throttled',
      message: { source: 'eventbridge', redriveTo: 'events' },
    });
    const result = await redriveDeadLetters(deps, { ids: ['msg-eb-1', 'msg-eb-2'] });
    expect(result.redriven).toEqual([{ id: 'msg-eb-1', kind: 'message', queue: 'events' }]);
    expect(result.skipped).toEqual([
      { id: 'msg-eb-2', error: 'NotRedrivable', message: expect.stringMatching(/schedule tick/) },
    ]);
    expect(deps.sourceQueues.events.messages).toHaveLength(1);
  });
});

describe('retryJob (POST /jobs/{id}/retry)', () => {
  it('runs a FAILED or CANCELLED job again and refuses anything else with JobNotRetryable', async () => {
    const failed = await fail(await running({ type: 'once' }), 1);
    expect((await retryJob(deps, failed.id)).state).toBe('QUEUED');
    const cancelled = await cancelJob(deps, (await submit({ type: 'once' })).id);
    expect((await retryJob(deps, cancelled.id)).state).toBe('QUEUED');

    const busy = await running({ type: 'once' });
    await expect(retryJob(deps, busy.id)).rejects.toMatchObject({
      code: 'JobNotRetryable',
      message: `Job ${busy.id} is SUBMITTED; only FAILED or CANCELLED jobs can be retried`,
    });
    await applyExecutorUpdate(deps, update(busy, 'SUCCEEDED', { exitCode: 0 }));
    await expect(retryJob(deps, busy.id)).rejects.toMatchObject({ code: 'JobNotRetryable' });
    await expect(retryJob(deps, '01KAQZ0000000000000000000A')).rejects.toMatchObject({ code: 'JobNotFound' });
  });

  it('sends a cancelled job back to WAITING while its dependencies run, and refuses when one failed', async () => {
    const upstream = await running({ type: 'once' });
    const downstream = await submit({ type: 'once', dependsOn: [upstream.id] });
    await cancelJob(deps, downstream.id);
    expect((await retryJob(deps, downstream.id)).state).toBe('WAITING');
    await applyExecutorUpdate(deps, update(upstream, 'SUCCEEDED', { exitCode: 0 }));
    expect((await reload(downstream.id)).state).toBe('QUEUED');

    const up2 = await running({ type: 'once' });
    const down2 = await submit({ type: 'once', dependsOn: [up2.id] });
    await cancelJob(deps, down2.id);
    await fail(up2, 1);
    await expect(retryJob(deps, down2.id)).rejects.toMatchObject({ code: 'DependencyNotSucceeded' });
  });
});

describe('idempotency end to end', () => {
  it('keys a payload-hash job type by its params, for its own retention', async () => {
    const a = await submit({ type: 'hashy', params: { x: 1, y: [1, 2] } });
    const same = await submitJob(
      deps,
      SubmitRequestSchema.parse({ type: 'hashy', params: { y: [1, 2], x: 1 } }),
      api,
    );
    expect(same).toEqual({ job: a, created: false });
    const other = await submit({ type: 'hashy', params: { x: 2 } });
    expect(other.id).not.toBe(a.id);
    expect(a.idempotencyKey).toMatch(/^hashy#payload:[0-9a-f]{64}$/);
    const stored = deps.store.keys.get(a.idempotencyKey!);
    expect(stored!.expiresAt - deps.clock.now().getTime()).toBe(3_600_000);

    deps.clock.advance(3_600_001);
    expect(
      (await submitJob(deps, SubmitRequestSchema.parse({ type: 'hashy', params: { x: 1, y: [1, 2] } }), api))
        .created,
    ).toBe(true);
  });

  it('uses the deployment retention for types without their own', async () => {
    const job = await submit({ type: 'once', idempotencyKey: 'k' });
    expect(deps.store.keys.get(job.idempotencyKey!)!.expiresAt - deps.clock.now().getTime()).toBe(
      deps.settings.idempotencyRetentionHours * 3_600_000,
    );
  });

  it('releases a key so the same submit makes a new job, and says when there is no such key', async () => {
    const first = await submit({ type: 'once', idempotencyKey: 'nightly-2026-11-23' });
    await releaseIdempotencyKey(deps, 'once', 'nightly-2026-11-23');
    const second = await submit({ type: 'once', idempotencyKey: 'nightly-2026-11-23' });
    expect(second.id).not.toBe(first.id);
    await expect(releaseIdempotencyKey(deps, 'flaky', 'nightly-2026-11-23')).rejects.toMatchObject({
      code: 'IdempotencyKeyNotFound',
    });
    const hashed = await submit({ type: 'hashy', params: { x: 1 } });
    await releaseIdempotencyKey(deps, 'hashy', hashed.idempotencyKey!.replace(/^hashy#/, ''));
    expect(
      (await submitJob(deps, SubmitRequestSchema.parse({ type: 'hashy', params: { x: 1 } }), api)).created,
    ).toBe(true);
  });
});

describe('reconciler repairs', () => {
  it('notes each repair on the job and counts it by kind', async () => {
    const job = await submit({ type: 'once' });
    await deps.store.updateJob(
      { ...job, state: JobState.Submitting, holdsSlot: true, stateChangedAt: deps.clock.now().toISOString() },
      0,
    );
    deps.clock.advance(deps.settings.submittingTimeoutMs + 1000);
    expect((await reconcile(deps)).requeued).toBe(1);
    expect((await reload(job.id)).repairs).toEqual([
      expect.objectContaining({
        repair: 'requeued-stuck-submit',
        detail: expect.stringMatching(/no job of that name/),
      }),
    ]);
    expect(deps.metrics.total('ReconcilerRepairs', { Repair: 'requeued-stuck-submit' })).toBe(1);
    expect(deps.metrics.total('ReconcilerRepairs')).toBe(1); // the service-wide count the alarm watches
  });

  it('releases a retry whose release message was lost, once its grace is over (not while the message may come)', async () => {
    const waiting = await fail(await running(), 1);
    deps.dispatchQueue.messages.length = 0; // the delayed release message is lost
    deps.clock.advance(Date.parse(waiting.retryAt!) - deps.clock.now().getTime() + 1000);
    expect((await reconcile(deps)).retriesReleased).toBe(0);
    deps.clock.advance(deps.settings.effectsGraceMs ?? 60_000);
    expect((await reconcile(deps)).retriesReleased).toBe(1);
    expect(await reload(waiting.id)).toMatchObject({
      state: 'QUEUED',
      repairs: [expect.objectContaining({ repair: 'released-retry' })],
    });
  });

  it('releases a QUEUED job whose nudge was lost on the next scheduled dispatcher pass', async () => {
    const job = await submit({ type: 'once' });
    deps.dispatchQueue.messages.length = 0; // the nudge never arrives
    await dispatchAll(deps); // the one-minute schedule
    expect((await reload(job.id)).state).toBe('SUBMITTED');
  });

  it('alerts once per attempt on a job RUNNABLE past the limit (runnableTimeoutAction alert)', async () => {
    const job = await running({ type: 'once' });
    deps.executor.jobs.set(job.executorJobId!, { ...update(job, 'RUNNABLE') });
    deps.clock.advance(deps.settings.runnableTimeoutMs + 1000);
    expect((await reconcile(deps)).runnableTimedOut).toBe(1);
    expect((await reconcile(deps)).runnableTimedOut).toBe(0);
    const after = await reload(job.id);
    expect(after.state).toBe('SUBMITTED');
    expect(after.repairs).toEqual([
      expect.objectContaining({
        repair: 'runnable-timeout',
        detail: expect.stringMatching(/^attempt 1: .*alerted/),
      }),
    ]);
    expect(deps.metrics.total('ReconcilerRepairs', { Repair: 'runnable-timeout' })).toBe(1);
    expect(deps.executor.terminated).toEqual([]);
  });

  it('terminates and fails (through the retry policy) a job RUNNABLE past the limit with action fail', async () => {
    deps = testDeps({ catalog, settings: { ...deps.settings, runnableTimeoutAction: 'fail' } });
    const job = await running({ type: 'flaky' });
    deps.executor.jobs.set(job.executorJobId!, { ...update(job, 'RUNNABLE') });
    deps.clock.advance(deps.settings.runnableTimeoutMs + 1000);
    expect((await reconcile(deps)).runnableTimedOut).toBe(1);
    expect(deps.executor.terminated).toEqual([job.executorJobId]);
    const after = await reload(job.id);
    expect(after).toMatchObject({
      state: 'RETRY_WAIT',
      statusReason: expect.stringMatching(/^OffpeakRunnableTimeout/),
    });
    expect((await deps.store.slotUsage(queueSlotCounter('normal'))).used).toBe(0);
    // The FAILED event of the terminated executor job arrives later: stale, nothing changes.
    await applyExecutorUpdate(deps, update(job, 'FAILED', { statusReason: 'Terminated' }));
    expect((await reload(job.id)).state).toBe('RETRY_WAIT');
  });
});

describe('crash points', () => {
  it('repairs a crash between the terminal write and its effects (slot, event, dead letter)', async () => {
    const job = await running({ type: 'once' });
    deps.crashPoints.armed.add(CrashPoint.TrackAfterWrite);
    await expect(fail(job, 1)).rejects.toBeInstanceOf(SimulatedCrash);
    expect(await reload(job.id)).toMatchObject({ state: 'FAILED', effectsPending: true });
    expect((await deps.store.slotUsage(queueSlotCounter('normal'))).used).toBe(1);
    deps.clock.advance(2 * 60_000);
    expect((await reconcile(deps)).effectsCompleted).toBe(1);
    expect((await deps.store.slotUsage(queueSlotCounter('normal'))).used).toBe(0);
    expect(deps.deadLetters.records.size).toBe(1);
    expect(deps.events.events.map((e) => e.detailType)).toEqual(['Job Failed']);
  });
});

describe('cancel while the job is being submitted', () => {
  it('marks it; the dispatcher that claimed it completes the cancel and terminates what it submitted', async () => {
    const job = await submit({ type: 'once' });
    // The dispatcher claims the job, then "pauses" (crash point) before taking its slot.
    deps.crashPoints.armed.add(CrashPoint.DispatchAfterSlot);
    await expect(dispatchQueue(deps, 'normal')).rejects.toBeInstanceOf(SimulatedCrash);
    expect((await reload(job.id)).state).toBe('SUBMITTING');
    const answered = await cancelJob(deps, job.id);
    expect(answered).toMatchObject({ state: 'SUBMITTING', cancelRequested: true });
    expect(await cancelJob(deps, job.id)).toMatchObject({ state: 'SUBMITTING', cancelRequested: true });

    // Its dispatcher was killed there: the reconciler finds it SUBMITTING with nothing at the executor.
    deps.clock.advance(deps.settings.submittingTimeoutMs + 1000);
    await reconcile(deps);
    expect(await reload(job.id)).toMatchObject({
      state: 'CANCELLED',
      holdsSlot: false,
      effectsPending: false,
    });
    expect((await deps.store.slotUsage(queueSlotCounter('normal'))).used).toBe(0);
    expect(deps.events.events.map((e) => e.detailType)).toEqual(['Job Cancelled']);
  });

  it('the reconciler cancels (and terminates) a job whose dispatcher died after submitting it', async () => {
    const job = await submit({ type: 'once' });
    deps.crashPoints.armed.add(CrashPoint.DispatchAfterSubmit);
    await expect(dispatchQueue(deps, 'normal')).rejects.toBeInstanceOf(SimulatedCrash);
    await cancelJob(deps, job.id);
    deps.clock.advance(deps.settings.submittingTimeoutMs + 1000);
    expect((await reconcile(deps)).adopted).toBe(1);
    expect(await reload(job.id)).toMatchObject({ state: 'CANCELLED', executorJobId: 'exec-1' });
    expect(deps.executor.terminated).toEqual(['exec-1']);
    expect((await deps.store.slotUsage(queueSlotCounter('normal'))).used).toBe(0);
  });
});

describe('a slow dispatcher never runs an attempt twice', () => {
  it('does not submit on a claim older than half the submitting timeout (the reconciler may re-queue it)', async () => {
    const job = await submit({ type: 'once' });
    const acquire = deps.store.acquireSlot.bind(deps.store);
    deps.store.acquireSlot = async (counter, limit) => {
      deps.clock.advance(deps.settings.submittingTimeoutMs); // throttled for that long
      return acquire(counter, limit);
    };
    await dispatchQueue(deps, 'normal');
    expect(deps.executor.submitted).toEqual([]);
    expect(await reload(job.id)).toMatchObject({ state: 'QUEUED', holdsSlot: false, attempt: 0 });
    expect((await deps.store.slotUsage(queueSlotCounter('normal'))).used).toBe(0);
  });

  it('terminates what it submitted when its claim was taken meanwhile (re-queued and claimed again)', async () => {
    const job = await submit({ type: 'once' });
    const submitting = deps.executor.submit.bind(deps.executor);
    deps.executor.submit = async (request) => {
      // While this submit is slow, the reconciler re-queued the claim and another pass claimed it again.
      const current = (await deps.store.getJob(job.id))!;
      deps.clock.advance(1000);
      await deps.store.updateJob(
        { ...current, stateChangedAt: deps.clock.now().toISOString(), slotToken: 'another-claim' },
        current.version,
      );
      return submitting(request);
    };
    await dispatchQueue(deps, 'normal');
    expect(deps.executor.terminated).toEqual(['exec-1']);
    expect((await reload(job.id)).executorJobId).toBeUndefined();
  });
});
