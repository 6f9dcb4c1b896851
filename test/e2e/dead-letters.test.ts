import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { exampleJobTypes } from '../../config/job-types.js';
import { buildCatalogData } from '../../src/core/catalog.js';
import type { DeadLetter, DeadLetterSummary } from '../../src/core/dead-letter.js';
import type { Job } from '../../src/core/job.js';
import { isTerminal } from '../../src/core/job-state.js';
import { defineJobType } from '../../src/core/job-type.js';
import { defaultQueues } from '../../src/core/queue-spec.js';
import { type LocalService, startLocalService } from '../../src/local/service.js';

// Dead letters, redrive, "retry after" and idempotency-key release over HTTP on the local service: the local
// adapters (log files, marker files, DLQ pollers) wired as `npm start` wires them.
const catalogData = buildCatalogData({
  jobTypes: [
    ...exampleJobTypes,
    defineJobType({
      name: 'rate-limited',
      image: 'busybox',
      command: [
        'sh',
        '-c',
        'if [ "$OFFPEAK_ATTEMPT" -lt 2 ]; then echo "429: retry in 1 s"; echo 1 > "$OFFPEAK_RETRY_MARKER"; exit 75; fi; echo "done"',
      ],
      params: z.object({}).strict(),
      retry: { attempts: 3, baseDelaySeconds: 600, retryAfterExitCodes: [75] },
    }),
  ],
  queues: defaultQueues,
});

let dataDir: string;
let service: LocalService;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'offpeak-e2e-dead-letters-'));
  service = await startLocalService({
    catalogData,
    dataDir,
    port: 0,
    slots: 4,
    dispatchIntervalMs: 500,
    reconcileIntervalMs: 1_000,
  });
});
afterAll(async () => {
  await service?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function api<T = Job>(method: string, path: string, body?: unknown) {
  const response = await fetch(`${service.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : {}) as T };
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value)) {
    if (Date.now() > deadline) throw new Error(`timed out; last: ${JSON.stringify(value).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 100));
    value = await read();
  }
  return value;
}

const job = (id: string) => api(`GET`, `/jobs/${id}`).then((r) => r.body);

describe('dead letters over HTTP (local service)', () => {
  it('dead-letters a job that failed its last attempt, with its log tail, and redrives it as a new attempt series', async () => {
    const { body: submitted } = await api('POST', '/jobs', {
      type: 'hello',
      params: { name: 'dl', exitCode: 3 },
    });
    const failed = await until(
      () => job(submitted.id),
      (j) => isTerminal(j.state) && !j.effectsPending, // then the effects record the dead letter
    );
    expect(failed).toMatchObject({ state: 'FAILED', deadLetterId: `job-${submitted.id}-1` });

    const list = await api<{ items: DeadLetterSummary[] }>('GET', '/dead-letters?kind=job&type=hello');
    expect(list.status).toBe(200);
    expect(list.body.items).toContainEqual(
      expect.objectContaining({ id: failed.deadLetterId, jobId: submitted.id, exitCode: 3, status: 'open' }),
    );
    const full = await api<DeadLetter>('GET', `/dead-letters/${failed.deadLetterId}`);
    expect(full.body).toMatchObject({
      logLines: ['hello, dl'],
      job: { params: { name: 'dl', exitCode: 3 } },
    });
    expect(service.metrics.totals()['DeadLetters Kind=job']).toBeGreaterThanOrEqual(1);

    const redriven = await api<{ redriven: unknown[] }>('POST', '/dead-letters/redrive', {
      ids: [failed.deadLetterId],
    });
    expect(redriven).toMatchObject({
      status: 200,
      body: { redriven: [{ jobId: submitted.id, attempt: 2 }] },
    });
    const again = await until(
      () => job(submitted.id),
      (j) => j.attempt === 2 && isTerminal(j.state) && !j.effectsPending,
    );
    expect(again).toMatchObject({
      state: 'FAILED',
      attempt: 2,
      maxAttempts: 2,
      deadLetterId: `job-${submitted.id}-2`,
    });
    expect(again.retries).toEqual([
      expect.objectContaining({ cause: 'redrive', deadLetterId: failed.deadLetterId }),
    ]);

    // Bad input: an id that is not dead-lettered any more, one that does not exist.
    expect(await api('POST', '/dead-letters/redrive', { ids: [failed.deadLetterId] })).toMatchObject({
      status: 409,
      body: { error: 'NotDeadLettered' },
    });
    expect(await api('DELETE', '/dead-letters/job-01KAQZ0000000000000000000A-1')).toMatchObject({
      status: 404,
      body: { error: 'DeadLetterNotFound' },
    });
    expect((await api('DELETE', `/dead-letters/job-${submitted.id}-2`)).status).toBe(204);
  });

  it('waits the delay a job asked for in its marker file, then runs the next attempt', async () => {
    const { body: submitted } = await api('POST', '/jobs', { type: 'rate-limited' });
    const done = await until(
      () => job(submitted.id),
      (j) => isTerminal(j.state),
    );
    expect(done).toMatchObject({ state: 'SUCCEEDED', attempt: 2 });
    const wait = done.history.find((h) => h.state === 'RETRY_WAIT');
    expect(wait?.reason).toMatch(/asked to retry after 1 s/);
    // The backoff would have been up to 600 s: the marker's 1 s was used.
    expect(Date.parse(done.finishedAt!) - Date.parse(done.createdAt)).toBeLessThan(15_000);
  });

  it('dead-letters a poison intake message with its reason, and records what reaches a DLQ', async () => {
    const sqs = new SQSClient({
      endpoint: service.endpoints.sqs,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    try {
      const poison = await sqs.send(
        new SendMessageCommand({
          QueueUrl: service.resources.queues.intake.url,
          MessageBody: '{"type":"nope"}',
        }),
      );
      const dlq = await sqs.send(
        new SendMessageCommand({
          QueueUrl: service.resources.queues.dispatch.dlqUrl,
          MessageBody: 'not json',
        }),
      );
      const found = await until(
        () => api<{ items: DeadLetterSummary[] }>('GET', '/dead-letters?kind=message'),
        (r) => r.body.items.length >= 2,
      );
      expect(found.body.items).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            id: `msg-${poison.MessageId}`,
            source: 'intake',
            type: 'nope',
            reason: expect.stringMatching(/^UnknownJobType: /),
          }),
          expect.objectContaining({
            id: `msg-${dlq.MessageId}`,
            source: 'dispatch',
            bodyPreview: 'not json',
          }),
        ]),
      );
      // A body that is not JSON cannot go back: the redrive says so, and the dead letter stays.
      const result = await api<{ skipped: unknown[] }>('POST', '/dead-letters/redrive', {
        ids: [`msg-${dlq.MessageId}`],
      });
      expect(result.body.skipped).toEqual([expect.objectContaining({ error: 'NotRedrivable' })]);
    } finally {
      sqs.destroy();
    }
  });

  it('releases an idempotency key so the same submit makes a new job; retrying a running job is a 409', async () => {
    const body = { type: 'hello', params: { sleepSeconds: 30 }, idempotencyKey: 'e2e-release' };
    const first = await api('POST', '/jobs', body);
    expect((await api('POST', '/jobs', body)).body.id).toBe(first.body.id);
    await until(
      () => job(first.body.id),
      (j) => j.state === 'RUNNING',
    );
    expect(await api('POST', `/jobs/${first.body.id}/retry`)).toMatchObject({
      status: 409,
      body: {
        error: 'JobNotRetryable',
        message: `Job ${first.body.id} is RUNNING; only FAILED or CANCELLED jobs can be retried`,
      },
    });
    expect((await api('DELETE', '/idempotency-keys/e2e-release?type=hello')).status).toBe(204);
    expect(await api('DELETE', '/idempotency-keys/e2e-release?type=hello')).toMatchObject({
      status: 404,
      body: { error: 'IdempotencyKeyNotFound' },
    });
    const second = await api('POST', '/jobs', body);
    expect(second.status).toBe(201);
    expect(second.body.id).not.toBe(first.body.id);
    for (const id of [first.body.id, second.body.id]) await api('POST', `/jobs/${id}/cancel`);
    const cancelled = await api('POST', `/jobs/${first.body.id}/retry`);
    expect(cancelled).toMatchObject({ status: 200, body: { state: 'QUEUED' } });
    await api('POST', `/jobs/${first.body.id}/cancel`);
  });
});
