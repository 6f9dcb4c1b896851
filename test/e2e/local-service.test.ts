import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { exampleJobTypes } from '../../config/job-types.js';
import { buildCatalogData } from '../../src/core/catalog.js';
import type { Job } from '../../src/core/job.js';
import { isTerminal } from '../../src/core/job-state.js';
import { defineJobType } from '../../src/core/job-type.js';
import { defaultQueues } from '../../src/core/queue-spec.js';
import { localLogFile } from '../../src/local/local-executor.js';
import { type LocalService, type LocalServiceOptions, startLocalService } from '../../src/local/service.js';

// The shipped job types, plus a sleeper on a queue that runs one job at a time: it keeps a second job QUEUED.
const catalogData = buildCatalogData({
  jobTypes: [
    ...exampleJobTypes,
    defineJobType({
      name: 'e2e-sleep',
      image: 'busybox',
      command: ['sh', '-c', 'echo start; sleep "$OFFPEAK_PARAM_SECONDS"; echo done'],
      params: z.object({ seconds: z.number().min(0).max(600) }).strict(),
      retry: { attempts: 1 },
      queue: 'serial',
    }),
  ],
  queues: [...defaultQueues, { name: 'serial', batchPriority: 50, concurrency: 1 }],
});

type ErrorBody = { error: string; message: string };

let dataDir: string;
let service: LocalService;
const options = (): LocalServiceOptions => ({
  catalogData,
  dataDir,
  port: 0,
  slots: 4,
  dispatchIntervalMs: 1_000,
  reconcileIntervalMs: 2_000,
  killGraceMs: 1_000,
});

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'offpeak-e2e-'));
  service = await startLocalService(options());
});

afterAll(async () => {
  await service?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function api<T = Job>(method: string, path: string, body?: unknown | string) {
  const response = await fetch(`${service.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as T };
}

async function waitFor(id: string, done: (job: Job) => boolean, timeoutMs = 20_000): Promise<Job> {
  const deadline = Date.now() + timeoutMs;
  let job: Job | undefined;
  while (Date.now() < deadline) {
    const response = await api('GET', `/jobs/${id}`);
    if (response.status === 200) {
      job = response.body;
      if (done(job)) return job;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} did not get there in time; last state ${job?.state}`);
}

const finished = (id: string) => waitFor(id, (job) => isTerminal(job.state));

async function jobCount(): Promise<number> {
  const { body } = await api<{ items: Job[]; cursor?: string }>('GET', '/jobs?limit=100');
  return body.items.length;
}

/** Processes (not zombies) whose environment names this Offpeak job; Linux only. */
function processesOf(jobId: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${entry}/stat`, 'utf8'))) continue;
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(`OFFPEAK_JOB_ID=${jobId}`)) {
        pids.push(Number(entry));
      }
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids;
}
const hasProcfs = process.platform === 'linux';

describe('local service over HTTP', () => {
  const created: string[] = [];

  it('runs a submitted job to SUCCEEDED and keeps its output in the job log', async () => {
    // Act
    const submitted = await api('POST', '/jobs', { type: 'hello', params: { name: 'e2e' } });
    const job = await finished(submitted.body.id);
    created.push(job.id);

    // Assess
    expect(submitted.status).toBe(201);
    expect(submitted.body.state).toBe('QUEUED');
    expect(job).toMatchObject({ state: 'SUCCEEDED', exitCode: 0, attempt: 1, trigger: { kind: 'api' } });
    expect(job.history.map((h) => h.state)).toEqual([
      'QUEUED',
      'SUBMITTING',
      'SUBMITTED',
      'RUNNING',
      'SUCCEEDED',
    ]);
    const log = await readFile(localLogFile(service.dataDir, job.id, job.executorJobId!), 'utf8');
    expect(log).toBe('hello, e2e\n');
  });

  it('records a failing job as FAILED with its exit code', async () => {
    const submitted = await api('POST', '/jobs', { type: 'hello', params: { exitCode: 3 } });
    const job = await finished(submitted.body.id);
    created.push(job.id);
    expect(job).toMatchObject({ state: 'FAILED', exitCode: 3 });
    expect(job.attempts).toEqual([expect.objectContaining({ attempt: 1, exitCode: 3, outcome: 'FAILED' })]);
  });

  it('answers a repeated idempotency key with 200 and the same job', async () => {
    const body = { type: 'hello', params: { name: 'once' }, idempotencyKey: 'e2e-once' };
    const first = await api('POST', '/jobs', body);
    const second = await api('POST', '/jobs', body);
    created.push(first.body.id);
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    await finished(first.body.id);
  });

  it('cancels a running job: CANCELLED, and its process is gone', async () => {
    // Prepare
    const submitted = await api('POST', '/jobs', { type: 'hello', params: { sleepSeconds: 120 } });
    created.push(submitted.body.id);
    await waitFor(submitted.body.id, (job) => job.state === 'RUNNING');
    if (hasProcfs) await expect.poll(() => processesOf(submitted.body.id).length).toBeGreaterThan(0);

    // Act
    const cancelled = await api('POST', `/jobs/${submitted.body.id}/cancel`);

    // Assess
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.state).toBe('CANCELLED');
    const [executorJob] = await service.executor.describe([cancelled.body.executorJobId!]);
    if (hasProcfs) await expect.poll(() => processesOf(submitted.body.id), { timeout: 5_000 }).toEqual([]);
    await expect
      .poll(async () => (await service.executor.describe([cancelled.body.executorJobId!]))[0]?.status)
      .toBe('FAILED');
    expect(executorJob).toBeDefined();
    expect((await api('GET', `/jobs/${submitted.body.id}`)).body.state).toBe('CANCELLED');
  });

  it.each([
    ['malformed JSON', '{"type": "hello",', 'MalformedJson'],
    ['an unknown job type', { type: 'no-such-type' }, 'UnknownJobType'],
    ['params the schema rejects', { type: 'hello', params: { exitCode: 'three' } }, 'InvalidParams'],
    ['an unknown field', { type: 'hello', colour: 'blue' }, 'InvalidRequest'],
  ])('refuses %s with 400 {error, message} and stores nothing', async (_what, body, code) => {
    const before = await jobCount();
    const response = await api<ErrorBody>('POST', '/jobs', body);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: code, message: expect.any(String) });
    expect(await jobCount()).toBe(before);
  });

  it('answers unknown routes and unknown jobs with 404 {error, message}', async () => {
    const route = await api<ErrorBody>('GET', '/nope');
    expect(route.status).toBe(404);
    expect(route.body).toMatchObject({ error: expect.any(String), message: expect.any(String) });
    const job = await api<ErrorBody>('GET', '/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV');
    expect(job.status).toBe(404);
    expect(job.body.error).toBe('JobNotFound');
  });

  it('keeps every job across a restart, and finishes a job that was QUEUED at the stop', async () => {
    // Prepare: the serial queue runs one job at a time, so the second sleeper waits QUEUED.
    const running = await api('POST', '/jobs', { type: 'e2e-sleep', params: { seconds: 120 } });
    await waitFor(running.body.id, (job) => job.state === 'RUNNING');
    const queued = await api('POST', '/jobs', { type: 'e2e-sleep', params: { seconds: 0 } });
    await service.dispatchNow();
    // Dispatch passes try it (QUEUED → SUBMITTING → QUEUED "no free slot"); it never reaches the executor.
    const waiting = await waitFor(queued.body.id, (job) => job.state === 'QUEUED');
    expect(waiting.attempt).toBe(0);
    created.push(running.body.id, queued.body.id);
    const before = new Map<string, string>();
    for (const id of created) before.set(id, (await api('GET', `/jobs/${id}`)).body.state);
    const countBefore = await jobCount();

    // Act
    const stopStarted = Date.now();
    await service.stop();
    const stopMs = Date.now() - stopStarted;
    if (hasProcfs) expect(processesOf(running.body.id)).toEqual([]);
    service = await startLocalService(options());

    // Assess
    expect(stopMs).toBeLessThan(10_000);
    expect(await jobCount()).toBe(countBefore);
    for (const [id, state] of before) {
      const { status, body } = await api('GET', `/jobs/${id}`);
      expect(status).toBe(200);
      if (isTerminal(state as Job['state'])) expect(body.state).toBe(state);
    }
    // The sleeper the stop killed is lost to the executor: the reconciler fails it (no retries for this type) …
    const lost = await finished(running.body.id);
    expect(lost.state).toBe('FAILED');
    // … which frees the queue for the job that was waiting.
    const resumed = await finished(queued.body.id);
    expect(resumed).toMatchObject({ state: 'SUCCEEDED', exitCode: 0 });
  });
});
