import { beforeEach, describe, expect, it } from 'vitest';
import { ConflictError, NonRetryableError, RetryableError, ValidationError } from '../../src/core/errors.js';
import type { Job } from '../../src/core/job.js';
import { executorJobName } from '../../src/core/job-name.js';
import { JobState } from '../../src/core/job-state.js';
import { SubmitRequestSchema } from '../../src/core/requests.js';
import { cancelJob } from '../../src/core/services/cancel.js';
import { dispatchAll, dispatchQueue, releaseRetry } from '../../src/core/services/dispatch.js';
import { reconcile } from '../../src/core/services/reconcile.js';
import { queueSlotCounter } from '../../src/core/services/slots.js';
import { submitJob } from '../../src/core/services/submit.js';
import { applyExecutorUpdate } from '../../src/core/services/track.js';
import type { ExecutorJob, ExecutorStatus } from '../../src/ports/executor.js';
import { type TestDeps, testDeps } from './support/fakes.js';

const api = { kind: 'api', source: 'POST /jobs' } as const;

async function submit(deps: TestDeps, body: Record<string, unknown>) {
  return submitJob(deps, SubmitRequestSchema.parse(body), api);
}

function update(job: Job, status: ExecutorStatus, extra: Partial<ExecutorJob> = {}): ExecutorJob {
  return {
    executorJobId: job.executorJobId ?? 'exec-?',
    jobName: executorJobName(job.type, job.id),
    status,
    ...extra,
  };
}

async function reload(deps: TestDeps, id: string): Promise<Job> {
  const job = await deps.store.getJob(id);
  if (!job) throw new Error(`missing ${id}`);
  return job;
}

/** Submit and dispatch one job; returns it SUBMITTED. */
async function submitted(deps: TestDeps, body: Record<string, unknown> = { type: 'hello' }): Promise<Job> {
  const { job } = await submit(deps, body);
  await dispatchQueue(deps, job.queue);
  return reload(deps, job.id);
}

let deps: TestDeps;
beforeEach(() => {
  deps = testDeps();
});

describe('submitJob', () => {
  it('stores a QUEUED job with its trigger and nudges the dispatcher', async () => {
    const { job, created } = await submit(deps, { type: 'hello', params: { name: 'Ada' } });
    expect(created).toBe(true);
    expect(job).toMatchObject({
      type: 'hello',
      state: 'QUEUED',
      queue: 'normal',
      priority: 500,
      attempt: 0,
      maxAttempts: 1,
      trigger: api,
    });
    expect(await reload(deps, job.id)).toEqual(job);
    expect(deps.dispatchQueue.messages).toEqual([{ body: { kind: 'nudge', queue: 'normal' } }]);
  });

  it('returns the existing job for a repeated idempotency key and stores nothing new', async () => {
    const first = await submit(deps, { type: 'hello', idempotencyKey: 'k1' });
    const again = await submit(deps, { type: 'hello', idempotencyKey: 'k1' });
    expect(again).toEqual({ job: first.job, created: false });
    expect(deps.store.jobs.size).toBe(1);
  });

  it('refuses a repeated key with different params', async () => {
    await submit(deps, { type: 'hello', idempotencyKey: 'k1', params: { name: 'a' } });
    await expect(
      submit(deps, { type: 'hello', idempotencyKey: 'k1', params: { name: 'b' } }),
    ).rejects.toThrow(ConflictError);
  });

  it('adopts the id of a key whose job was never written (crash between the two writes)', async () => {
    await deps.store.claimIdempotencyKey('hello#k1', '01KAQZ0000000000000000000A', new Date('2030-01-01'));
    const { job, created } = await submit(deps, { type: 'hello', idempotencyKey: 'k1' });
    expect(created).toBe(true);
    expect(job.id).toBe('01KAQZ0000000000000000000A');
  });

  it.each([
    [{ type: 'nope' }, 'UnknownJobType'],
    [{ type: 'hello', params: { exitCode: 'x' } }, 'InvalidParams'],
    [{ type: 'hello', dependsOn: ['01KAQZ0000000000000000000A'] }, 'UnknownDependencies'],
  ])('rejects %j with %s and stores nothing', async (body, code) => {
    await expect(submit(deps, body)).rejects.toMatchObject({ code });
    expect(deps.store.jobs.size).toBe(0);
  });

  it('waits for dependencies, then runs when they succeed', async () => {
    const upstream = await submitted(deps);
    const { job } = await submit(deps, { type: 'hello', dependsOn: [upstream.id] });
    expect(job.state).toBe('WAITING');
    await applyExecutorUpdate(deps, update(upstream, 'SUCCEEDED', { exitCode: 0 }));
    expect((await reload(deps, job.id)).state).toBe('QUEUED');
  });

  it('skips dependents of a failed dependency, transitively', async () => {
    const upstream = await submitted(deps);
    const middle = (await submit(deps, { type: 'hello', dependsOn: [upstream.id] })).job;
    const last = (await submit(deps, { type: 'hello', dependsOn: [middle.id] })).job;
    await applyExecutorUpdate(deps, update(upstream, 'FAILED', { exitCode: 1 }));
    expect((await reload(deps, middle.id)).state).toBe('SKIPPED');
    expect((await reload(deps, last.id)).state).toBe('SKIPPED');
    expect(deps.events.events.filter((e) => e.detailType === 'Job Skipped')).toHaveLength(2);
  });
});

describe('dispatchQueue', () => {
  it('releases jobs by priority, FIFO among equals, up to the queue limit', async () => {
    const ids: string[] = [];
    for (const priority of [500, 900, 500, 100, 900])
      ids.push((await submit(deps, { type: 'hello', priority })).job.id);
    const limit = deps.catalog.queue('normal').concurrency;
    for (let i = 0; i < limit; i++) await submit(deps, { type: 'hello', priority: 0 });
    const summary = await dispatchQueue(deps, 'normal');
    expect(summary).toMatchObject({ released: limit, full: true });
    const order = deps.executor.submitted.map((r) => r.jobId);
    expect(order.slice(0, 5)).toEqual([ids[1], ids[4], ids[0], ids[2], ids[3]]);
    expect((await deps.store.slotUsage(queueSlotCounter('normal'))).used).toBe(limit);
    expect([...deps.store.jobs.values()].filter((j) => j.state === 'QUEUED')).toHaveLength(5);
  });

  it('records what the job ran with and passes params in the environment', async () => {
    const job = await submitted(deps, { type: 'hello', params: { name: 'Ada', exitCode: 3 } });
    expect(job).toMatchObject({ state: 'SUBMITTED', attempt: 1, executorJobId: 'exec-1', holdsSlot: true });
    expect(job.runSpec).toEqual({
      typeVersion: deps.catalog.jobType('hello').version,
      jobDefinition: 'arn:aws:batch:us-east-1:123456789012:job-definition/hello:1',
      image: 'img',
      command: ['run'],
    });
    const request = deps.executor.submitted[0]!;
    expect(request.jobName).toBe(`offpeak-hello-${job.id}`);
    expect(request.environment).toMatchObject({
      OFFPEAK_JOB_ID: job.id,
      OFFPEAK_PARAMS: '{"name":"Ada","exitCode":3}',
      OFFPEAK_PARAM_NAME: 'Ada',
      OFFPEAK_PARAM_EXITCODE: '3',
    });
  });

  it('costs three job/slot writes per released job', async () => {
    for (let i = 0; i < 5; i++) await submit(deps, { type: 'hello' });
    const before = deps.store.writes.job + deps.store.writes.slot;
    await dispatchQueue(deps, 'normal');
    expect(deps.store.writes.job + deps.store.writes.slot - before).toBe(15);
  });

  it('puts a job back on a transient submit error and fails it on a permanent one', async () => {
    const { job } = await submit(deps, { type: 'hello' });
    deps.executor.failNextSubmit = new RetryableError('Throttled', 'slow down');
    await dispatchQueue(deps, 'normal');
    expect(await reload(deps, job.id)).toMatchObject({ state: 'QUEUED', holdsSlot: false });
    expect((await deps.store.slotUsage(queueSlotCounter('normal'))).used).toBe(0);

    deps.executor.failNextSubmit = new NonRetryableError('BadDefinition', 'no such job definition');
    await dispatchQueue(deps, 'normal');
    expect(await reload(deps, job.id)).toMatchObject({ state: 'FAILED', error: { code: 'BadDefinition' } });
    expect((await deps.store.slotUsage(queueSlotCounter('normal'))).used).toBe(0);
  });

  it('never exceeds the limit with concurrent dispatchers', async () => {
    for (let i = 0; i < 40; i++) await submit(deps, { type: 'hello' });
    await Promise.all(Array.from({ length: 8 }, () => dispatchAll(deps)));
    const active = [...deps.store.jobs.values()].filter((j) => j.state === 'SUBMITTED');
    expect(active).toHaveLength(deps.catalog.queue('normal').concurrency);
    expect(new Set(deps.executor.submitted.map((r) => r.jobId)).size).toBe(deps.executor.submitted.length);
  });
});

describe('applyExecutorUpdate', () => {
  it('follows RUNNING → SUCCEEDED, releases the slot and publishes once despite duplicates', async () => {
    const job = await submitted(deps);
    await applyExecutorUpdate(deps, update(job, 'RUNNING', { startedAt: new Date('2026-11-23T10:00:01Z') }));
    const done = update(job, 'SUCCEEDED', { exitCode: 0, stoppedAt: new Date('2026-11-23T10:00:05Z') });
    expect(await applyExecutorUpdate(deps, done)).toMatchObject({
      kind: 'changed',
      from: 'RUNNING',
      to: 'SUCCEEDED',
    });
    expect(await applyExecutorUpdate(deps, done)).toMatchObject({ kind: 'unchanged' });
    expect(await applyExecutorUpdate(deps, update(job, 'RUNNING'))).toMatchObject({ kind: 'unchanged' });
    const after = await reload(deps, job.id);
    expect(after).toMatchObject({ state: 'SUCCEEDED', exitCode: 0, holdsSlot: false, effectsPending: false });
    expect(after.attempts).toEqual([
      expect.objectContaining({
        attempt: 1,
        startedAt: '2026-11-23T10:00:01.000Z',
        stoppedAt: '2026-11-23T10:00:05.000Z',
        outcome: 'SUCCEEDED',
      }),
    ]);
    expect((await deps.store.slotUsage(queueSlotCounter('normal'))).used).toBe(0);
    expect(deps.events.events.map((e) => e.detailType)).toEqual(['Job Succeeded']);
  });

  it('accepts a terminal event that arrives before RUNNING (out of order)', async () => {
    const job = await submitted(deps);
    await applyExecutorUpdate(deps, update(job, 'SUCCEEDED', { exitCode: 0 }));
    await applyExecutorUpdate(deps, update(job, 'RUNNING'));
    await applyExecutorUpdate(deps, update(job, 'RUNNABLE'));
    expect((await reload(deps, job.id)).state).toBe('SUCCEEDED');
  });

  it('retries a failed attempt with backoff, then runs attempt 2 on a new executor job', async () => {
    const job = await submitted(deps, { type: 'nightly-backup', params: { source: '/tmp' } });
    await applyExecutorUpdate(deps, update(job, 'FAILED', { exitCode: 1 }), () => 0.5);
    const waiting = await reload(deps, job.id);
    expect(waiting.state).toBe('RETRY_WAIT');
    const delayMs = Date.parse(waiting.retryAt!) - deps.clock.now().getTime();
    expect(delayMs).toBe(15_000); // base 30 s, first retry, jitter 0.5
    expect(deps.dispatchQueue.messages.at(-2)).toEqual({
      body: { kind: 'retry-release', jobId: job.id },
      options: { delaySeconds: 15 },
    });

    expect((await releaseRetry(deps, job.id))?.state).toBe('RETRY_WAIT'); // too early
    deps.clock.advance(15_000);
    expect((await releaseRetry(deps, job.id))?.state).toBe('QUEUED');
    await dispatchQueue(deps, 'low');
    const second = await reload(deps, job.id);
    expect(second).toMatchObject({ state: 'SUBMITTED', attempt: 2, executorJobId: 'exec-2' });

    // A late event of attempt 1 changes nothing.
    await applyExecutorUpdate(deps, { ...update(job, 'SUCCEEDED'), executorJobId: 'exec-1' });
    expect((await reload(deps, job.id)).state).toBe('SUBMITTED');
  });

  it('fails for good when attempts are used up, with the exit code as error', async () => {
    const job = await submitted(deps, { type: 'hello', params: { exitCode: 3 } });
    await applyExecutorUpdate(
      deps,
      update(job, 'FAILED', { exitCode: 3, statusReason: 'Essential container in task exited' }),
    );
    expect(await reload(deps, job.id)).toMatchObject({
      state: 'FAILED',
      exitCode: 3,
      error: { code: 'ExitCode3', message: 'Essential container in task exited' },
    });
    expect(deps.events.events.map((e) => e.detailType)).toEqual(['Job Failed']);
  });

  it('adopts an executor job the dispatcher did not record yet', async () => {
    const { job } = await submit(deps, { type: 'hello' });
    const claimed = await deps.store.updateJob(
      { ...job, state: JobState.Submitting, holdsSlot: true },
      job.version,
    );
    await applyExecutorUpdate(deps, {
      executorJobId: 'batch-77',
      jobName: executorJobName('hello', job.id),
      status: 'RUNNING',
    });
    expect(await reload(deps, claimed.id)).toMatchObject({
      state: 'RUNNING',
      executorJobId: 'batch-77',
      attempt: 1,
    });
  });

  it('ignores jobs that are not Offpeak jobs and array children', async () => {
    expect(
      await applyExecutorUpdate(deps, { executorJobId: 'x', jobName: 'other', status: 'FAILED' }),
    ).toMatchObject({ kind: 'ignored' });
    const job = await submitted(deps);
    expect(await applyExecutorUpdate(deps, update(job, 'FAILED', { arrayIndex: 3 }))).toMatchObject({
      kind: 'ignored',
    });
  });
});

describe('cancelJob', () => {
  it('cancels a queued job without touching the executor', async () => {
    const { job } = await submit(deps, { type: 'hello' });
    expect((await cancelJob(deps, job.id)).state).toBe('CANCELLED');
    expect(deps.executor.terminated).toEqual([]);
  });

  it('terminates a running job, frees its slot and ignores the FAILED event that follows', async () => {
    const job = await submitted(deps);
    await applyExecutorUpdate(deps, update(job, 'RUNNING'));
    expect((await cancelJob(deps, job.id)).state).toBe('CANCELLED');
    expect(deps.executor.terminated).toEqual(['exec-1']);
    await applyExecutorUpdate(deps, update(job, 'FAILED', { statusReason: 'Terminated' }));
    expect((await reload(deps, job.id)).state).toBe('CANCELLED');
    expect((await deps.store.slotUsage(queueSlotCounter('normal'))).used).toBe(0);
  });

  it('refuses to cancel a finished job', async () => {
    const job = await submitted(deps);
    await applyExecutorUpdate(deps, update(job, 'SUCCEEDED'));
    await expect(cancelJob(deps, job.id)).rejects.toMatchObject({ code: 'JobFinished' });
  });

  it('answers NotFound for an unknown id', async () => {
    await expect(cancelJob(deps, '01KAQZ0000000000000000000A')).rejects.toMatchObject({
      code: 'JobNotFound',
    });
  });
});

describe('reconcile', () => {
  it('requeues a job stuck in SUBMITTING that never reached the executor, and fixes the counter', async () => {
    const { job } = await submit(deps, { type: 'hello' });
    await deps.store.updateJob(
      { ...job, state: JobState.Submitting, holdsSlot: true, stateChangedAt: deps.clock.now().toISOString() },
      0,
    );
    await deps.store.acquireSlot(queueSlotCounter('normal'), 10);
    deps.clock.advance(deps.settings.submittingTimeoutMs + 1000);
    const summary = await reconcile(deps);
    expect(summary.requeued).toBe(1);
    expect((await reload(deps, job.id)).state).toBe('QUEUED');
    expect((await deps.store.slotUsage(queueSlotCounter('normal'))).used).toBe(0);
  });

  it('adopts an executor job found by name for a job stuck in SUBMITTING', async () => {
    const { job } = await submit(deps, { type: 'hello' });
    await deps.store.updateJob(
      { ...job, state: JobState.Submitting, holdsSlot: true, stateChangedAt: deps.clock.now().toISOString() },
      0,
    );
    deps.executor.jobs.set('orphan-1', {
      executorJobId: 'orphan-1',
      jobName: executorJobName('hello', job.id),
      status: 'RUNNING',
    });
    deps.clock.advance(deps.settings.submittingTimeoutMs + 1000);
    expect((await reconcile(deps)).adopted).toBe(1);
    expect(await reload(deps, job.id)).toMatchObject({ state: 'RUNNING', executorJobId: 'orphan-1' });
  });

  it('applies a lost terminal event from DescribeJobs', async () => {
    const job = await submitted(deps);
    deps.executor.jobs.set('exec-1', {
      executorJobId: 'exec-1',
      jobName: executorJobName('hello', job.id),
      status: 'SUCCEEDED',
      exitCode: 0,
    });
    deps.clock.advance(deps.settings.staleActiveMs + 1000);
    expect((await reconcile(deps)).refreshed).toBe(1);
    expect((await reload(deps, job.id)).state).toBe('SUCCEEDED');
  });

  it('fails (through the retry policy) a job its executor no longer knows', async () => {
    const job = await submitted(deps);
    deps.executor.jobs.clear();
    deps.clock.advance(deps.settings.staleActiveMs + 1000);
    expect((await reconcile(deps)).lost).toBe(1);
    expect(await reload(deps, job.id)).toMatchObject({
      state: 'FAILED',
      statusReason: expect.stringMatching(/not found/),
    });
  });

  it('is a no-op on a healthy system', async () => {
    await submitted(deps);
    const summary = await reconcile(deps);
    expect(Object.values(summary).every((n) => n === 0)).toBe(true);
  });
});

// Keep the error classes referenced so their names stay part of this suite's vocabulary.
void ValidationError;

describe('reconcile: completion effects cut short by a crash', () => {
  it('publishes the event and returns the slot of a job that ended with effects pending', async () => {
    const job = await submitted(deps);
    // The terminal write landed, then the process died before running the effects.
    const { nextJob } = await import('../../src/core/services/track.js');
    const ended = nextJob(deps, job, update(job, 'SUCCEEDED', { exitCode: 0 }))!;
    await deps.store.updateJob(ended, job.version);
    expect((await deps.store.slotUsage(queueSlotCounter('normal'))).used).toBe(1);
    expect(deps.events.events).toEqual([]);

    deps.clock.advance(2 * 60_000);
    expect((await reconcile(deps)).effectsCompleted).toBe(1);
    expect(deps.events.events.map((e) => e.detailType)).toEqual(['Job Succeeded']);
    expect((await deps.store.slotUsage(queueSlotCounter('normal'))).used).toBe(0);
    expect(await reload(deps, job.id)).toMatchObject({ effectsPending: false, slotReleasePending: false });

    // A second pass finds nothing to do.
    expect((await reconcile(deps)).effectsCompleted).toBe(0);
  });
});
