import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleJobTypes } from '../../config/job-types.js';
import { createAwsClients } from '../../src/aws/clients.js';
import { buildCatalogData } from '../../src/core/catalog.js';
import type { Clock } from '../../src/core/clock.js';
import type { Job } from '../../src/core/job.js';
import { isTerminal } from '../../src/core/job-state.js';
import { defaultQueues } from '../../src/core/queue-spec.js';
import { offpeakJobEvent } from '../../src/core/triggers/trigger-config.js';
import { type LocalService, startLocalService } from '../../src/local/service.js';
import { fixture } from '../unit/support/fixtures.js';

// Every trigger kind on the shipped job types. The clock runs at real speed from a chosen offset, so minute
// schedules fire within seconds and a restart can be "hours later".
const GITHUB_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:e2e/github-AbCdEf';
const ORDERS_ARN = 'arn:aws:sqs:us-east-1:123456789012:e2e-orders';
const catalogData = buildCatalogData({
  jobTypes: exampleJobTypes,
  queues: defaultQueues,
  triggers: {
    schedules: [
      { id: 'every-minute', jobType: 'hello', expression: 'cron(* * * * ? *)', params: { name: 'cron' } },
      {
        id: 'catch-up-all',
        jobType: 'hello',
        expression: 'rate(1 hour)',
        params: { name: 'made-up' },
        catchUp: 'all',
        catchUpLimit: 2,
      },
    ],
    uploads: [
      {
        id: 'drops',
        jobType: 'hello',
        prefix: 'hello/',
        suffixes: ['.txt'],
        mapping: { name: 'detail.object.key' },
      },
    ],
    hooks: [
      {
        id: 'gh',
        provider: 'github',
        secretArn: GITHUB_SECRET_ARN,
        jobType: 'hello',
        mapping: { name: 'pusher.name' },
        maxBodyBytes: 8192,
      },
    ],
    queues: [{ id: 'orders', jobType: 'hello', queueArn: ORDERS_ARN }],
    events: [
      {
        id: 'after-backup',
        jobType: 'hello',
        pattern: offpeakJobEvent('nightly-backup'),
        params: { name: 'after' },
      },
    ],
  },
});
const github = fixture<{
  pushDelivery: { secret: string; headers: Record<string, string>; rawBody: string };
}>('github-webhook-signature.json');

let dataDir: string;
let service: LocalService;
/** 2.5 s before a whole minute (so `every-minute` fires soon) and whole hours (`catch-up-all` anchor). */
let offsetMs: number;
const clock: Clock = { now: () => new Date(Date.now() + offsetMs) };
const start = () =>
  startLocalService({
    catalogData,
    dataDir,
    port: 0,
    slots: 4,
    dispatchIntervalMs: 500,
    reconcileIntervalMs: 5_000,
    dropSettleMs: 100,
    clock,
  });

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'offpeak-e2e-triggers-'));
  await writeFile(
    join(dataDir, 'secrets.json'),
    JSON.stringify({ 'e2e/github': github.pushDelivery.secret }),
  );
  const target = Date.parse('2026-11-23T10:00:00Z') - 2_500;
  offsetMs = target - Date.now();
  service = await start();
});

afterAll(async () => {
  await service?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function request<T = Job>(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const response = await fetch(`${service.url}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Waits until a job matches, among the newest 100. */
async function jobWhere(match: (job: Job) => boolean, timeoutMs = 15_000): Promise<Job> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { body } = await request<{ items: Job[] }>('GET', '/jobs?limit=100');
    const found = body.items.find(match);
    if (found && isTerminal(found.state)) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no such job in time');
}

async function jobsWhere(match: (job: Job) => boolean): Promise<Job[]> {
  const { body } = await request<{ items: Job[] }>('GET', '/jobs?limit=100');
  return body.items.filter(match);
}

describe('triggers in the local service', () => {
  it('fires a cron schedule on time, keyed by its scheduled time', async () => {
    const job = await jobWhere((j) => j.trigger.source === 'schedule/every-minute');
    expect(job).toMatchObject({
      state: 'SUCCEEDED',
      params: { name: 'cron' },
      trigger: { kind: 'schedule', scheduledTime: '2026-11-23T10:00:00Z' },
      idempotencyKey: 'hello#schedule|every-minute|2026-11-23T10:00:00Z',
    });
    expect(job.trigger.catchUp).toBeUndefined();
  });

  it('turns a file dropped in the folder into one job with the object as input', async () => {
    await writeFile(join(service.triggers.dropDir, 'hello', 'ada.txt'), 'Ada\n');
    await writeFile(join(service.triggers.dropDir, 'hello', 'ignored.csv'), 'no\n');
    const job = await jobWhere((j) => j.trigger.kind === 's3');
    expect(job).toMatchObject({
      state: 'SUCCEEDED',
      input: { kind: 'object', uri: `s3://${service.resources.bucketName}/inputs/hello/ada.txt` },
      params: { name: 'inputs/hello/ada.txt' },
    });
    await service.triggers.dropFolder.idle();
    expect(await jobsWhere((j) => j.trigger.kind === 's3')).toHaveLength(1);
  });

  it('runs a signed GitHub webhook once per delivery, and refuses a tampered one', async () => {
    // (fetch computes Content-Length for each body)
    const { 'Content-Length': _length, ...headers } = github.pushDelivery.headers;
    const { rawBody } = github.pushDelivery;
    const first = await request('POST', '/hooks/gh', rawBody, headers);
    const again = await request('POST', '/hooks/gh', rawBody, headers);
    expect([first.status, again.status]).toEqual([201, 200]);
    expect(again.body.id).toBe(first.body.id);
    expect(first.body).toMatchObject({
      params: { name: 'Codertocat' },
      trigger: { kind: 'webhook', source: 'hook/gh' },
    });
    const tampered = await request<{ error: string }>(
      'POST',
      '/hooks/gh',
      rawBody.replace('Hello-World', 'Hello-Earth'),
      headers,
    );
    expect(tampered).toMatchObject({ status: 401, body: { error: 'InvalidSignature' } });
    const big = await request<{ error: string }>(
      'POST',
      '/hooks/gh',
      `{"pad":"${'x'.repeat(9000)}"}`,
      headers,
    );
    expect(big).toMatchObject({ status: 413, body: { error: 'PayloadTooLarge' } });
    expect((await request<{ error: string }>('POST', '/hooks/nope', '{}')).status).toBe(404);
  });

  it('holds a runAt job until its time, then runs it with the reserved id', async () => {
    const runAt = new Date(clock.now().getTime() + 1_500).toISOString();
    const held = await request<{ jobId: string; scheduleId: string; state: string }>('POST', '/jobs', {
      type: 'hello',
      params: { name: 'later' },
      runAt,
    });
    expect(held).toMatchObject({ status: 202, body: { state: 'SCHEDULED' } });
    expect((await request('GET', `/jobs/${held.body.jobId}`)).status).toBe(404);
    const schedule = await request<{ state: string; origin: string }>(
      'GET',
      `/schedules/${held.body.scheduleId}`,
    );
    expect(schedule.body).toMatchObject({ state: 'ENABLED', origin: 'run-at' });
    const job = await jobWhere((j) => j.id === held.body.jobId);
    expect(job).toMatchObject({ state: 'SUCCEEDED', trigger: { kind: 'api' } });

    const past = await request<{ error: string }>('POST', '/jobs', {
      type: 'hello',
      runAt: new Date(clock.now().getTime() - 3_600_000).toISOString(),
    });
    expect(past).toMatchObject({ status: 400, body: { error: 'RunAtInPast' } });
  });

  it('manages schedules over HTTP with 4xx for bad input', async () => {
    const created = await request<{ id: string; nextFireAt: string }>('POST', '/schedules', {
      id: 'e2e-daily',
      jobType: 'hello',
      expression: 'cron(0 6 ? * MON-FRI *)',
      timezone: 'Europe/Berlin',
    });
    expect(created).toMatchObject({
      status: 201,
      body: { id: 'e2e-daily', nextFireAt: '2026-11-24T05:00:00.000Z' },
    });
    const paused = await request<{ state: string }>('PATCH', '/schedules/e2e-daily', { enabled: false });
    expect(paused.body.state).toBe('DISABLED');
    const list = await request<{ items: { id: string }[] }>('GET', '/schedules');
    expect(list.body.items.map((s) => s.id)).toEqual(expect.arrayContaining(['every-minute', 'e2e-daily']));
    for (const [body, error] of [
      [{ jobType: 'hello', expression: 'cron(0 6 * * * *)' }, 'InvalidScheduleExpression'],
      [{ jobType: 'hello', expression: 'rate(1 hour)', timezone: 'Nowhere/City' }, 'UnknownTimeZone'],
      [{ jobType: 'ghost', expression: 'rate(1 hour)' }, 'UnknownJobType'],
    ] as const) {
      expect(await request('POST', '/schedules', body)).toMatchObject({ status: 400, body: { error } });
    }
    expect((await request('PATCH', '/schedules/every-minute', { enabled: false })).status).toBe(409);
    expect((await request('DELETE', '/schedules/e2e-daily')).status).toBe(204);
    expect((await request('GET', '/schedules/e2e-daily')).status).toBe(404);
  });

  it('chains a job on another job type succeeding (local events → event trigger)', async () => {
    const source = await mkdtemp(join(tmpdir(), 'offpeak-e2e-backup-'));
    await writeFile(join(source, 'a.txt'), 'a');
    const backup = await request('POST', '/jobs', {
      type: 'nightly-backup',
      params: { source, label: 'e2e' },
    });
    const after = await jobWhere((j) => j.trigger.source === 'event/after-backup', 20_000);
    expect(after).toMatchObject({
      state: 'SUCCEEDED',
      params: { name: 'after' },
      trigger: { kind: 'event' },
    });
    expect((await request('GET', `/jobs/${backup.body.id}`)).body.state).toBe('SUCCEEDED');
    await rm(source, { recursive: true, force: true });
  });

  it("makes a job of each message on a queue trigger's queue", async () => {
    const clients = createAwsClients({
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      endpoints: { sqs: service.endpoints.sqs },
    });
    try {
      await clients.sqs.send(
        new SendMessageCommand({
          QueueUrl: service.triggers.queueUrls.orders,
          MessageBody: '{"name":"order-1"}',
        }),
      );
    } finally {
      clients.destroy();
    }
    const job = await jobWhere((j) => j.trigger.kind === 'queue');
    expect(job).toMatchObject({
      state: 'SUCCEEDED',
      params: { name: 'order-1' },
      trigger: { source: ORDERS_ARN },
    });
    expect(job.idempotencyKey).toMatch(/^hello#sqs:/);
  });

  it('after a restart hours later, makes up missed runs by policy and does not re-run dropped files', async () => {
    await service.stop();
    // Down from about 10:00 to 14:30: the 11:00–14:00 runs were missed; `all` with limit 2 makes up the newest two.
    offsetMs += 4.5 * 3_600_000;
    service = await start();
    const madeUp = await jobsWhereEventually(
      (j) => j.trigger.source === 'schedule/catch-up-all' && j.trigger.catchUp === true,
      2,
    );
    expect(madeUp.map((j) => j.trigger.scheduledTime).sort()).toEqual([
      '2026-11-23T13:00:00Z',
      '2026-11-23T14:00:00Z',
    ]);
    const all = await jobsWhere((j) => j.trigger.source === 'schedule/catch-up-all');
    expect(all.map((j) => j.trigger.scheduledTime).sort()).toEqual([
      '2026-11-23T10:00:00Z',
      '2026-11-23T13:00:00Z',
      '2026-11-23T14:00:00Z',
    ]);
    // every-minute has the default policy (none): nothing made up.
    expect(
      await jobsWhere((j) => j.trigger.source === 'schedule/every-minute' && j.trigger.catchUp === true),
    ).toEqual([]);
    await service.triggers.dropFolder.idle();
    expect(await jobsWhere((j) => j.trigger.kind === 's3')).toHaveLength(1);
  });
});

async function jobsWhereEventually(match: (job: Job) => boolean, count: number): Promise<Job[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const jobs = await jobsWhere(match);
    if (jobs.length >= count || Date.now() > deadline) return jobs;
    await new Promise((r) => setTimeout(r, 100));
  }
}
