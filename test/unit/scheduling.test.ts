import { beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defaultSettings, type Settings } from '../../src/core/deps.js';
import { NonRetryableError, RetryableError } from '../../src/core/errors.js';
import type { Job } from '../../src/core/job.js';
import { executorJobName } from '../../src/core/job-name.js';
import { defineJobType } from '../../src/core/job-type.js';
import { SubmitRequestSchema } from '../../src/core/requests.js';
import { cancelJob } from '../../src/core/services/cancel.js';
import { dispatchAll, dispatchQueue, EXECUTOR_THROTTLED } from '../../src/core/services/dispatch.js';
import {
  listQueues,
  listResources,
  patchQueue,
  patchResource,
} from '../../src/core/services/limits-admin.js';
import { reconcile, recountSlots } from '../../src/core/services/reconcile.js';
import { submitJob } from '../../src/core/services/submit.js';
import { applyExecutorUpdate } from '../../src/core/services/track.js';
import type { ExecutionHandle, ExecutionRequest, ExecutorStatus } from '../../src/ports/executor.js';
import { type TestDeps, testDeps } from './support/fakes.js';
import { schedulingCatalog, schedulingJobTypes, schedulingQueues } from './support/scheduling-catalog.js';

const api = { kind: 'api', source: 'POST /jobs' } as const;
const noSmoother: Partial<Settings> = { submitRate: undefined };

function makeDeps(settings: Partial<Settings> = noSmoother, catalog = schedulingCatalog()): TestDeps {
  return testDeps({ catalog, settings: { ...defaultSettings, ...settings } });
}

async function submit(deps: TestDeps, body: Record<string, unknown>): Promise<Job> {
  const { job } = await submitJob(deps, SubmitRequestSchema.parse(body), api);
  deps.clock.advance(1);
  return job;
}

async function reload(deps: TestDeps, id: string): Promise<Job> {
  const job = await deps.store.getJob(id);
  if (!job) throw new Error(`missing ${id}`);
  return job;
}

/** Reports an executor status for a job's current executor job, as the tracker would. */
async function report(deps: TestDeps, id: string, status: ExecutorStatus, executorJobId?: string) {
  const job = await reload(deps, id);
  return applyExecutorUpdate(deps, {
    executorJobId: executorJobId ?? job.executorJobId ?? 'none',
    jobName: executorJobName(job.type, job.id),
    status,
    ...(status === 'FAILED' ? { exitCode: 1 } : status === 'SUCCEEDED' ? { exitCode: 0 } : {}),
  });
}

function submittedIds(deps: TestDeps): string[] {
  return deps.executor.submitted.map((r) => r.jobId);
}

async function used(deps: TestDeps, counter: string): Promise<number> {
  return (await deps.store.slotUsage(counter)).used;
}

async function counters(deps: TestDeps): Promise<Record<string, number>> {
  return Object.fromEntries([...deps.store.slots].map(([name, slot]) => [name, slot.used]));
}

let deps: TestDeps;
beforeEach(() => {
  deps = makeDeps();
});

describe('dispatch order: priority, then FIFO or LIFO inside a queue', () => {
  const priorities = [5, 9, 5, 1, 9, 5];

  it('releases the highest priority first, oldest first among equals (FIFO)', async () => {
    const ids: string[] = [];
    for (const priority of priorities) ids.push((await submit(deps, { type: 'work', priority })).id);
    await dispatchQueue(deps, 'main');
    expect(submittedIds(deps)).toEqual([ids[1], ids[4], ids[0], ids[2], ids[5], ids[3]]);
  });

  it('releases the highest priority first, newest first among equals (LIFO)', async () => {
    const ids: string[] = [];
    for (const priority of priorities) ids.push((await submit(deps, { type: 'newest', priority })).id);
    await dispatchQueue(deps, 'stack');
    expect(submittedIds(deps)).toEqual([ids[4], ids[1], ids[5], ids[2], ids[0], ids[3]]);
  });

  it('keeps the order across passes when slots free up one at a time', async () => {
    await patchQueue(deps, 'main', { concurrency: 1 });
    const ids: string[] = [];
    for (const priority of [1, 500, 1000, 500]) ids.push((await submit(deps, { type: 'work', priority })).id);
    for (let i = 0; i < ids.length; i++) {
      await dispatchQueue(deps, 'main');
      await report(deps, submittedIds(deps).at(-1) as string, 'SUCCEEDED');
    }
    expect(submittedIds(deps)).toEqual([ids[2], ids[1], ids[3], ids[0]]);
  });
});

describe('concurrency limits at every level', () => {
  it('stops at the queue limit and fills the slot a finished job frees', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await submit(deps, { type: 'work' })).id);
    expect(await dispatchQueue(deps, 'main')).toMatchObject({ released: 10, full: true });
    expect(await used(deps, 'queue#main')).toBe(10);
    await report(deps, ids[0] as string, 'SUCCEEDED');
    expect(deps.dispatchQueue.messages.at(-1)?.body).toEqual({ kind: 'nudge', queue: 'main' });
    expect(await dispatchQueue(deps, 'main')).toMatchObject({ released: 1, full: true });
    expect(submittedIds(deps).at(-1)).toBe(ids[10]);
  });

  it('holds back jobs of a type at its limit without holding up the jobs behind them', async () => {
    const etl = [];
    for (const tenant of ['a', 'b', 'c', 'd'])
      etl.push((await submit(deps, { type: 'etl', params: { tenant } })).id);
    const work = (await submit(deps, { type: 'work' })).id;
    const summary = await dispatchQueue(deps, 'main');
    expect(summary).toMatchObject({ released: 4, full: false, blockedBy: ['type#etl'] });
    expect(submittedIds(deps)).toEqual([...etl.slice(0, 3), work]);
    expect(await counters(deps)).toMatchObject({ 'queue#main': 4, 'type#etl': 3, 'resource#warehouse': 3 });
    // Nothing was written for the job held back: it never left QUEUED.
    expect((await reload(deps, etl[3] as string)).history.map((h) => h.state)).toEqual(['QUEUED']);
  });

  it('limits each key value on its own, so one tenant cannot starve the others', async () => {
    await patchResource(deps, 'warehouse', { limit: 10 });
    const acme = [];
    for (let i = 0; i < 4; i++)
      acme.push((await submit(deps, { type: 'etl', params: { tenant: 'acme' } })).id);
    const zen = (await submit(deps, { type: 'etl', params: { tenant: 'zen' } })).id;
    const summary = await dispatchQueue(deps, 'main');
    expect(summary.blockedBy).toEqual(['key#etl#acme']);
    expect(submittedIds(deps)).toEqual([acme[0], acme[1], zen]);
    expect(await counters(deps)).toMatchObject({ 'key#etl#acme': 2, 'key#etl#zen': 1, 'type#etl': 3 });
    await report(deps, acme[0] as string, 'SUCCEEDED');
    await dispatchQueue(deps, 'main');
    expect(submittedIds(deps).at(-1)).toBe(acme[2]);
    expect(await used(deps, 'key#etl#acme')).toBe(2);
  });

  it('counts resource units across job types', async () => {
    const bulk1 = (await submit(deps, { type: 'bulk' })).id;
    const bulk2 = (await submit(deps, { type: 'bulk' })).id;
    const etl = (await submit(deps, { type: 'etl', params: { tenant: 't' } })).id;
    await dispatchQueue(deps, 'main');
    // 2 + 1 units of 3: the second bulk job (2 units) waits, the etl job behind it (1 unit) runs.
    expect(submittedIds(deps)).toEqual([bulk1, etl]);
    expect(await used(deps, 'resource#warehouse')).toBe(3);
    await report(deps, bulk1, 'SUCCEEDED');
    expect(deps.dispatchQueue.messages.at(-1)?.body).toEqual({ kind: 'nudge', queue: 'main' });
    await dispatchQueue(deps, 'main');
    expect(submittedIds(deps).at(-1)).toBe(bulk2);
    expect(await used(deps, 'resource#warehouse')).toBe(3);
  });

  it('gives back the slots already taken when a later level turns out full (and returns the job to its place)', async () => {
    const job = await submit(deps, { type: 'etl', params: { tenant: 'acme' } });
    // Another dispatcher takes the last warehouse units between this pass's read and its acquire.
    const acquire = deps.store.acquireSlot.bind(deps.store);
    deps.store.acquireSlot = async (counter, limit, units) => {
      if (counter === 'resource#warehouse') await acquire(counter, limit, 3);
      return acquire(counter, limit, units);
    };
    const summary = await dispatchQueue(deps, 'main');
    expect(summary).toMatchObject({ released: 0, blockedBy: ['resource#warehouse'] });
    expect(await counters(deps)).toEqual({
      'queue#main': 0,
      'type#etl': 0,
      'key#etl#acme': 0,
      'resource#warehouse': 3,
    });
    const after = await reload(deps, job.id);
    expect(after).toMatchObject({ state: 'QUEUED', holdsSlot: false });
    expect(after.slots).toBeUndefined();
    expect(after.history.map((h) => [h.state, h.reason])).toEqual([
      ['QUEUED', undefined],
      ['SUBMITTING', undefined],
      ['QUEUED', 'no free slot: resource#warehouse'],
    ]);
  });

  it('records the slots a job holds and gives back exactly those when it ends', async () => {
    const job = await submit(deps, { type: 'etl', params: { tenant: 'acme' } });
    await dispatchQueue(deps, 'main');
    expect((await reload(deps, job.id)).slots).toEqual([
      { counter: 'queue#main', units: 1 },
      { counter: 'type#etl', units: 1 },
      { counter: 'key#etl#acme', units: 1 },
      { counter: 'resource#warehouse', units: 1 },
    ]);
    // The catalog's limits may change while it runs: what it took is what it returns.
    await patchResource(deps, 'warehouse', { limit: 0 });
    await report(deps, job.id, 'RUNNING');
    await report(deps, job.id, 'FAILED');
    expect(Object.values(await counters(deps)).every((n) => n === 0)).toBe(true);
  });
});

describe('run-time changes (PATCH /queues, PATCH /resources)', () => {
  it('changes a queue limit from the next pass, and null goes back to the catalog', async () => {
    for (let i = 0; i < 15; i++) await submit(deps, { type: 'work' });
    const view = await patchQueue(deps, 'main', { concurrency: 2 });
    expect(view).toMatchObject({
      concurrency: { limit: 2, default: 10, used: 0 },
      queued: 15,
      paused: false,
    });
    expect(deps.dispatchQueue.messages.at(-1)?.body).toEqual({ kind: 'nudge', queue: 'main' });
    expect(await dispatchQueue(deps, 'main')).toMatchObject({ released: 2, full: true });
    await patchQueue(deps, 'main', { concurrency: 5 });
    expect(await dispatchQueue(deps, 'main')).toMatchObject({ released: 3, full: true });
    await patchQueue(deps, 'main', { concurrency: null });
    expect(await dispatchQueue(deps, 'main')).toMatchObject({ released: 5, full: true });
    const [main] = await listQueues(deps);
    expect(main).toMatchObject({
      name: 'main',
      concurrency: { limit: 10, default: 10, used: 10 },
      queued: 5,
    });
  });

  it('pauses and resumes a queue', async () => {
    await submit(deps, { type: 'work' });
    await patchQueue(deps, 'main', { paused: true });
    expect(await dispatchQueue(deps, 'main')).toEqual({
      queue: 'main',
      released: 0,
      full: false,
      failed: 0,
      paused: true,
    });
    expect((await dispatchAll(deps)).find((s) => s.queue === 'main')?.paused).toBe(true);
    expect(deps.executor.submitted).toHaveLength(0);
    await patchQueue(deps, 'main', { paused: false });
    expect(await dispatchQueue(deps, 'main')).toMatchObject({ released: 1 });
  });

  it('changes a resource limit and shows it with its use', async () => {
    for (const tenant of ['a', 'b', 'c']) await submit(deps, { type: 'etl', params: { tenant } });
    const view = await patchResource(deps, 'warehouse', { limit: 1 });
    expect(view).toEqual({
      name: 'warehouse',
      description: '',
      limit: 1,
      defaultLimit: 3,
      used: 0,
      jobTypes: { etl: 1, bulk: 2 },
      updatedAt: deps.clock.now().toISOString(),
    });
    await dispatchQueue(deps, 'main');
    expect(deps.executor.submitted).toHaveLength(1);
    expect((await listResources(deps)).find((r) => r.name === 'warehouse')).toMatchObject({
      limit: 1,
      used: 1,
    });
  });

  it('names unknown queues and resources', async () => {
    await expect(patchQueue(deps, 'nope', { paused: true })).rejects.toMatchObject({
      code: 'UnknownQueue',
      details: { queue: 'nope', known: ['main', 'stack', 'slow'] },
    });
    await expect(patchResource(deps, 'gpu', { limit: 1 })).rejects.toMatchObject({
      code: 'UnknownResource',
      details: { resource: 'gpu' },
    });
  });
});

describe('rate limits (fake clock)', () => {
  it('spaces the starts of a rate-limited queue and wakes the dispatcher when the next token is due', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await submit(deps, { type: 'trickle' })).id);
    const first = await dispatchQueue(deps, 'slow');
    expect(first).toMatchObject({ released: 1, retryAfterMs: 30_000 });
    expect(deps.dispatchQueue.messages.at(-1)).toEqual({
      body: { kind: 'nudge', queue: 'slow' },
      options: { delaySeconds: 30 },
    });
    // An empty bucket costs the next pass one read: no job is claimed only to be put back.
    const writes = deps.store.writes.job + deps.store.writes.slot;
    expect(await dispatchQueue(deps, 'slow')).toMatchObject({ released: 0, retryAfterMs: 30_000 });
    expect(deps.store.writes.job + deps.store.writes.slot).toBe(writes);
    expect((await reload(deps, ids[1] as string)).history.map((h) => h.state)).toEqual(['QUEUED']);
    expect(await used(deps, 'queue#slow')).toBe(1);
    deps.clock.advance(30_000);
    expect(await dispatchQueue(deps, 'slow')).toMatchObject({ released: 1 });
    deps.clock.advance(29_000);
    expect(await dispatchQueue(deps, 'slow')).toMatchObject({ released: 0, retryAfterMs: 1_000 });
    deps.clock.advance(1_000);
    expect(await dispatchQueue(deps, 'slow')).toMatchObject({ released: 1 });
    expect(submittedIds(deps)).toEqual(ids);
  });

  it('holds back jobs of a rate-limited resource but not the others in the queue', async () => {
    const calls = [
      (await submit(deps, { type: 'api-call' })).id,
      (await submit(deps, { type: 'api-call' })).id,
    ];
    const work = (await submit(deps, { type: 'work' })).id;
    const summary = await dispatchQueue(deps, 'main');
    expect(summary).toMatchObject({ released: 2, blockedBy: ['resource#partner-api'] });
    expect(submittedIds(deps)).toEqual([calls[0], work]);
    deps.clock.advance(10_000);
    await dispatchQueue(deps, 'main');
    expect(submittedIds(deps).at(-1)).toBe(calls[1]);
    expect(await used(deps, 'resource#partner-api')).toBe(2);
  });

  it('smooths executor submissions across every dispatcher with one shared bucket, taken in chunks', async () => {
    deps = makeDeps({ submitRate: { limit: 5, periodSeconds: 1, burst: 5 }, dispatchBatchSize: 100 });
    for (let i = 0; i < 8; i++) await submit(deps, { type: 'work' });
    const [a, b] = await Promise.all([dispatchQueue(deps, 'main'), dispatchQueue(deps, 'main')]);
    // Never above the rate. Racing dispatchers may release fewer: a pass drops the tokens it took ahead and could not
    // use (it lost claims to the other one), which only ever lowers the rate (DispatchPass.takeToken).
    const first = (a?.released ?? 0) + (b?.released ?? 0);
    expect(first).toBeGreaterThanOrEqual(1);
    expect(first).toBeLessThanOrEqual(5);
    expect(deps.scheduling.calls.takeTokens).toBeLessThanOrEqual(4);
    // Each later second releases at most 5 more, until all 8 are in.
    for (let second = 1; deps.executor.submitted.length < 8 && second <= 4; second++) {
      deps.clock.advance(1_000);
      const before = deps.executor.submitted.length;
      await dispatchQueue(deps, 'main');
      expect(deps.executor.submitted.length - before).toBeLessThanOrEqual(5);
    }
    expect(deps.executor.submitted).toHaveLength(8);
  });
});

describe('executor throttling never reaches users and never drops a job', () => {
  it('puts the job back with no error, pauses every dispatcher, then submits it', async () => {
    deps = makeDeps({ submitRate: { limit: 40, periodSeconds: 1, burst: 40 }, throttleBackoffMs: 2_000 });
    const job = await submit(deps, { type: 'work' });
    deps.executor.failNextSubmit = new RetryableError(EXECUTOR_THROTTLED, 'AWS Batch throttled SubmitJob', {
      retryAfterMs: 1000,
    });
    const summary = await dispatchQueue(deps, 'main');
    expect(summary.released).toBe(0);
    expect(summary.retryAfterMs).toBeGreaterThanOrEqual(1_500);
    const back = await reload(deps, job.id);
    expect(back).toMatchObject({ state: 'QUEUED', holdsSlot: false });
    expect(back.error).toBeUndefined();
    expect(back.history.at(-1)?.reason).toBe('executor throttled; will retry');
    expect(await used(deps, 'queue#main')).toBe(0);
    expect(deps.dispatchQueue.messages.at(-1)?.options?.delaySeconds).toBeGreaterThanOrEqual(2);
    expect(deps.events.events).toEqual([]);
    // Every other dispatcher sees the pause through the shared bucket.
    const other = makeDeps();
    Object.assign(other, {
      store: deps.store,
      scheduling: deps.scheduling,
      clock: deps.clock,
      settings: deps.settings,
    });
    expect(await dispatchQueue(other, 'main')).toMatchObject({ released: 0 });
    deps.clock.advance(3_000);
    expect(await dispatchQueue(deps, 'main')).toMatchObject({ released: 1 });
    expect(await reload(deps, job.id)).toMatchObject({ state: 'SUBMITTED', attempt: 1 });
  });

  it('fails a job on a permanent submit error and gives back every slot it took', async () => {
    const job = await submit(deps, { type: 'etl', params: { tenant: 'acme' } });
    deps.executor.failNextSubmit = new NonRetryableError('BadDefinition', 'no such job definition');
    expect(await dispatchQueue(deps, 'main')).toMatchObject({ released: 0, failed: 1 });
    expect(await reload(deps, job.id)).toMatchObject({ state: 'FAILED', error: { code: 'BadDefinition' } });
    expect(Object.values(await counters(deps)).every((n) => n === 0)).toBe(true);
  });
});

describe('completion gives back exactly what was taken', () => {
  it('survives duplicated and out-of-order events at every level', async () => {
    const holder = await submit(deps, { type: 'etl', params: { tenant: 'acme' } });
    const job = await submit(deps, { type: 'etl', params: { tenant: 'acme' } });
    await dispatchQueue(deps, 'main');
    const before = await counters(deps);
    expect(before).toMatchObject({ 'key#etl#acme': 2, 'resource#warehouse': 2 });
    const events: ExecutorStatus[] = ['SUCCEEDED', 'RUNNING', 'SUCCEEDED', 'RUNNABLE', 'FAILED', 'SUCCEEDED'];
    for (const status of events) await report(deps, job.id, status);
    expect(await reload(deps, job.id)).toMatchObject({ state: 'SUCCEEDED', effectsPending: false });
    expect(await counters(deps)).toEqual({
      'queue#main': 1,
      'type#etl': 1,
      'key#etl#acme': 1,
      'resource#warehouse': 1,
    });
    await report(deps, holder.id, 'SUCCEEDED');
    expect(Object.values(await counters(deps)).every((n) => n === 0)).toBe(true);
  });

  it('lets the dispatcher complete the cancel of a job cancelled while it was being submitted', async () => {
    const holder = await submit(deps, { type: 'etl', params: { tenant: 'acme' } });
    await dispatchQueue(deps, 'main');
    const job = await submit(deps, { type: 'etl', params: { tenant: 'acme' } });
    const submitToExecutor = deps.executor.submit.bind(deps.executor);
    deps.executor.submit = async (request: ExecutionRequest): Promise<ExecutionHandle> => {
      // The claim is the dispatcher's: a cancel only marks it, and the dispatcher completes it.
      const cancelled = await cancelJob(deps, request.jobId);
      expect(cancelled).toMatchObject({ state: 'SUBMITTING', cancelRequested: true, holdsSlot: true });
      return submitToExecutor(request);
    };
    await dispatchQueue(deps, 'main');
    expect(deps.executor.terminated).toEqual(['exec-2']);
    expect(await reload(deps, job.id)).toMatchObject({ state: 'CANCELLED', holdsSlot: false });
    expect(await counters(deps)).toEqual({
      'queue#main': 1,
      'type#etl': 1,
      'key#etl#acme': 1,
      'resource#warehouse': 1,
    });
    // The executor's report of the terminated job changes nothing.
    await report(deps, job.id, 'FAILED', 'exec-2');
    expect(await used(deps, 'queue#main')).toBe(1);
    await report(deps, holder.id, 'SUCCEEDED');
    expect(Object.values(await counters(deps)).every((n) => n === 0)).toBe(true);
  });

  it('releases the queue slot of a job written before slots had levels', async () => {
    const job = await submit(deps, { type: 'work' });
    await deps.store.acquireSlot('queue#main', 10);
    await deps.store.updateJob(
      { ...job, state: 'SUBMITTED', holdsSlot: true, executorJobId: 'old-1', attempt: 1 },
      job.version,
    );
    await report(deps, job.id, 'SUCCEEDED', 'old-1');
    expect(await used(deps, 'queue#main')).toBe(0);
  });
});

describe('the reconciler corrects leaked slots once the counter has settled', () => {
  it('requeues a job its dispatcher left in SUBMITTING without giving back slots it may not have taken', async () => {
    const job = await submit(deps, { type: 'etl', params: { tenant: 'acme' } });
    // The dispatcher died after the claim and two acquires.
    const claimed = await deps.store.updateJob(
      {
        ...job,
        state: 'SUBMITTING',
        holdsSlot: true,
        stateChangedAt: deps.clock.now().toISOString(),
        slots: [
          { counter: 'queue#main', units: 1 },
          { counter: 'type#etl', units: 1 },
          { counter: 'key#etl#acme', units: 1 },
          { counter: 'resource#warehouse', units: 1 },
        ],
        slotToken: 'x',
      },
      job.version,
    );
    await deps.store.acquireSlot('queue#main', 10);
    await deps.store.acquireSlot('type#etl', 3);
    deps.clock.advance(deps.settings.submittingTimeoutMs + 1_000);
    const first = await reconcile(deps);
    expect(first).toMatchObject({ requeued: 1, countersCorrected: 2 });
    expect(await reload(deps, claimed.id)).toMatchObject({ state: 'QUEUED', holdsSlot: false });
    expect(Object.values(await counters(deps)).every((n) => n === 0)).toBe(true);
  });

  it('leaves a counter alone while it changes, and corrects a leaked key slot that blocks its key', async () => {
    await deps.store.acquireSlot('key#etl#acme', 2, 1);
    await deps.store.acquireSlot('key#etl#acme', 2, 1);
    const waiting = await submit(deps, { type: 'etl', params: { tenant: 'acme' } });
    await dispatchQueue(deps, 'main');
    expect(deps.executor.submitted).toHaveLength(0);
    deps.clock.advance(61_000);
    expect((await reconcile(deps)).countersCorrected).toBe(0); // changed less than 2 minutes ago
    deps.clock.advance(60_000);
    expect((await reconcile(deps)).countersCorrected).toBe(1);
    expect(await used(deps, 'key#etl#acme')).toBe(0);
    await dispatchQueue(deps, 'main');
    expect(submittedIds(deps)).toEqual([waiting.id]);
  });

  it('counts a finished job whose slot release is still pending as their holder (no double release)', async () => {
    const job = await submit(deps, { type: 'etl', params: { tenant: 'acme' } });
    await dispatchQueue(deps, 'main');
    const held = await counters(deps);
    expect(held).toMatchObject({ 'queue#main': 1, 'key#etl#acme': 1, 'resource#warehouse': 1 });
    // The terminal write happened, its effects (which give the slots back) were cut short by a crash.
    const claimed = await reload(deps, job.id);
    await deps.store.updateJob(
      {
        ...claimed,
        state: 'FAILED',
        holdsSlot: false,
        slotReleasePending: true,
        effectsPending: true,
        stateChangedAt: deps.clock.now().toISOString(),
      },
      claimed.version,
    );
    deps.clock.advance(deps.settings.slotRecountSettleMs + 1_000);
    expect(await recountSlots(deps)).toBe(0);
    expect(await counters(deps)).toEqual(held);
    // Whoever completes the effects gives them back, once.
    await reconcile(deps);
    expect(Object.values(await counters(deps)).every((n) => n === 0)).toBe(true);
  });
});

describe('follow-up jobs', () => {
  const catalog = schedulingCatalog({
    jobTypes: [
      ...schedulingJobTypes,
      defineJobType({
        name: 'extract',
        image: 'busybox',
        command: ['true'],
        queue: 'main',
        retry: { attempts: 1 },
        onSuccess: [{ type: 'notify', params: { channel: 'etl' }, priority: 900 }],
        onFailure: [{ type: 'notify', params: { channel: 'pager' } }],
      }),
      defineJobType({
        name: 'notify',
        image: 'busybox',
        command: ['true'],
        queue: 'main',
        params: z.object({ channel: z.string() }),
      }),
    ],
  });

  it('submits the onSuccess / onFailure jobs once each, with the output of the finished job as input', async () => {
    deps = makeDeps(noSmoother, catalog);
    const ok = await submit(deps, { type: 'extract' });
    const bad = await submit(deps, { type: 'extract' });
    await dispatchQueue(deps, 'main');
    await report(deps, ok.id, 'SUCCEEDED');
    await report(deps, ok.id, 'SUCCEEDED');
    await report(deps, bad.id, 'FAILED');
    const followUps = [...deps.store.jobs.values()].filter((j) => j.type === 'notify');
    expect(followUps.map((j) => [j.params, j.priority, j.trigger, j.input?.uri])).toEqual([
      [{ channel: 'etl' }, 900, { kind: 'event', source: `job:${ok.id}` }, `outputs/${ok.id}/`],
      [{ channel: 'pager' }, 500, { kind: 'event', source: `job:${bad.id}` }, `outputs/${bad.id}/`],
    ]);
    // A re-run of the effects (a crash before they were marked done) finds the follow-up it already made.
    const done = await reload(deps, ok.id);
    const { runCompletionEffects } = await import('../../src/core/services/effects.js');
    await runCompletionEffects(deps, { ...done, effectsPending: true });
    expect([...deps.store.jobs.values()].filter((j) => j.type === 'notify')).toHaveLength(2);
    // The follow-up's container gets its input and output locations.
    await dispatchQueue(deps, 'main');
    const request = deps.executor.submitted.find((r) => r.jobId === followUps[0]?.id);
    expect(request?.environment).toMatchObject({
      OFFPEAK_INPUT_URI: `outputs/${ok.id}/`,
      OFFPEAK_OUTPUT_URI: `outputs/${followUps[0]?.id}/`,
    });
  });
});

describe('stuck-queue protection', () => {
  const stuckCatalog = (onStuck: 'alert' | 'fail') =>
    schedulingCatalog({
      queues: schedulingQueues.map((q) =>
        q.name === 'main' ? { ...q, maxQueuedSeconds: 300, maxRunnableSeconds: 900, onStuck } : q,
      ),
    });

  it('fails jobs that waited QUEUED longer than the queue allows', async () => {
    deps = makeDeps(noSmoother, stuckCatalog('fail'));
    await patchQueue(deps, 'main', { concurrency: 0 });
    const job = await submit(deps, { type: 'work' });
    deps.clock.advance(299_000);
    expect((await reconcile(deps)).stuckFailed).toBe(0);
    deps.clock.advance(2_000);
    expect((await reconcile(deps)).stuckFailed).toBe(1);
    expect(await reload(deps, job.id)).toMatchObject({
      state: 'FAILED',
      error: { name: 'JobStuck', code: 'StuckInQueue' },
    });
    expect(deps.events.events.map((e) => e.detailType)).toEqual(['Job Failed']);
  });

  it('raises one Queue Stuck alert per interval instead, and none for a paused queue', async () => {
    deps = makeDeps(noSmoother, stuckCatalog('alert'));
    await patchQueue(deps, 'main', { concurrency: 0 });
    const jobs = [await submit(deps, { type: 'work' }), await submit(deps, { type: 'work' })];
    deps.clock.advance(301_000);
    expect((await reconcile(deps)).stuckAlerts).toBe(1);
    expect((await reconcile(deps)).stuckAlerts).toBe(0);
    expect(deps.events.events).toEqual([
      {
        detailType: 'Queue Stuck',
        resources: jobs.map((j) => j.id),
        detail: expect.objectContaining({
          queue: 'main',
          state: 'QUEUED',
          waiting: 2,
          maxWaitSeconds: 300,
          oldestJobId: jobs[0]?.id,
        }),
      },
    ]);
    expect((await reload(deps, jobs[0]?.id as string)).state).toBe('QUEUED');
    await patchQueue(deps, 'main', { paused: true });
    deps.clock.advance(deps.settings.stuckAlertIntervalMs);
    expect((await reconcile(deps)).stuckAlerts).toBe(0);
    await patchQueue(deps, 'main', { paused: false });
    expect((await reconcile(deps)).stuckAlerts).toBe(1);
  });

  it('fails a released job that did not start at the executor in time, terminating it and freeing its slots', async () => {
    deps = makeDeps(noSmoother, stuckCatalog('fail'));
    const job = await submit(deps, { type: 'etl', params: { tenant: 'acme' } });
    await dispatchQueue(deps, 'main');
    deps.executor.jobs.set('exec-1', { ...deps.executor.jobs.get('exec-1')!, status: 'RUNNABLE' });
    deps.clock.advance(899_000);
    expect((await reconcile(deps)).stuckFailed).toBe(0);
    deps.clock.advance(2_000);
    expect((await reconcile(deps)).stuckFailed).toBe(1);
    expect(await reload(deps, job.id)).toMatchObject({ state: 'FAILED', error: { code: 'StuckRunnable' } });
    expect(deps.executor.terminated).toEqual(['exec-1']);
    expect(Object.values(await counters(deps)).every((n) => n === 0)).toBe(true);
    // Batch's report of the termination finds the job finished.
    await report(deps, job.id, 'FAILED');
    expect((await reload(deps, job.id)).error?.code).toBe('StuckRunnable');
  });

  it('alerts about released jobs stuck RUNNABLE when the queue is set to alert', async () => {
    deps = makeDeps(noSmoother, stuckCatalog('alert'));
    const job = await submit(deps, { type: 'work' });
    await dispatchQueue(deps, 'main');
    deps.executor.jobs.set('exec-1', { ...deps.executor.jobs.get('exec-1')!, status: 'RUNNABLE' });
    deps.clock.advance(901_000);
    expect((await reconcile(deps)).stuckAlerts).toBe(1);
    expect(deps.events.events.at(-1)).toMatchObject({
      detailType: 'Queue Stuck',
      detail: { queue: 'main', state: 'RUNNABLE', oldestJobId: job.id, maxWaitSeconds: 900 },
    });
    expect((await reload(deps, job.id)).state).toBe('SUBMITTED');
  });
});
