import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildCatalogData, Catalog } from '../../src/core/catalog.js';
import { ErrorKind, errorKindOf } from '../../src/core/errors.js';
import type { Job } from '../../src/core/job.js';
import { executorJobName } from '../../src/core/job-name.js';
import { activeStates, isTerminal, JobState } from '../../src/core/job-state.js';
import { SubmitRequestSchema } from '../../src/core/requests.js';
import { cancelJob } from '../../src/core/services/cancel.js';
import { dispatchQueue, releaseRetry } from '../../src/core/services/dispatch.js';
import { queueSlotCounter } from '../../src/core/services/slots.js';
import { submitJob } from '../../src/core/services/submit.js';
import { applyExecutorUpdate } from '../../src/core/services/track.js';
import type { JobStore } from '../../src/ports/job-store.js';
import { type TestDeps, testDeps } from './support/fakes.js';

// Cancellation at any state, racing everything else (issue 6): dispatch passes, executor events, retry releases and
// cancels run concurrently, and fast-check's scheduler interleaves every store call of every one of them in a random
// order. Whatever the interleaving, once everything settled: every cancelled job is CANCELLED with its executor job
// terminated, every slot counter equals the number of jobs that hold a slot (no reconciler recount needed), no job
// holds a slot outside SUBMITTING/SUBMITTED/RUNNING, and no completion effects are left pending.
const LIMIT = 2;
const catalog = new Catalog(
  buildCatalogData({
    jobTypes: [
      {
        name: 'work',
        image: 'img',
        command: ['run'],
        queue: 'q',
        retry: { attempts: 2, baseDelaySeconds: 0 },
      },
    ],
    queues: [{ name: 'q', batchPriority: 1, concurrency: LIMIT }],
  }),
);

type Op =
  | { readonly kind: 'dispatch' }
  | { readonly kind: 'cancel'; readonly job: number }
  | { readonly kind: 'event'; readonly job: number; readonly status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' }
  | { readonly kind: 'release'; readonly job: number };

const JOBS = 5;
const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  fc.constant({ kind: 'dispatch' as const }),
  fc.record({ kind: fc.constant('cancel' as const), job: fc.nat(JOBS - 1) }),
  fc.record({
    kind: fc.constant('event' as const),
    job: fc.nat(JOBS - 1),
    status: fc.constantFrom('RUNNING' as const, 'SUCCEEDED' as const, 'FAILED' as const),
  }),
  fc.record({ kind: fc.constant('release' as const), job: fc.nat(JOBS - 1) }),
);

/** The store with a scheduling point before every call, so the scheduler decides who goes first. */
function scheduledStore(store: JobStore, s: fc.Scheduler): JobStore {
  const calls: string[] = [];
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        calls.push(String(property));
        // A livelock (services retrying each other forever) would show as an endless stream of calls.
        if (calls.length > 5000) throw new Error(`livelock: ${calls.slice(-40).join(' ')}`);
        await s.schedule(Promise.resolve(), String(property));
        return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      };
    },
  });
}

async function run(deps: TestDeps, ids: string[], op: Op): Promise<void> {
  const id = op.kind === 'dispatch' ? undefined : ids[op.job];
  try {
    if (op.kind === 'dispatch') await dispatchQueue(deps, 'q');
    else if (op.kind === 'cancel') await cancelJob(deps, id!);
    else if (op.kind === 'release') await releaseRetry(deps, id!);
    else {
      const job = await deps.store.getJob(id!);
      if (!job?.executorJobId) return;
      await applyExecutorUpdate(
        deps,
        {
          executorJobId: job.executorJobId,
          jobName: executorJobName(job.type, job.id),
          status: op.status,
          ...(op.status === 'RUNNING' ? {} : { exitCode: op.status === 'SUCCEEDED' ? 0 : 1 }),
        },
        () => 0,
      );
    }
  } catch (error) {
    // Cancelling a job that just finished is a 409: an answer, not a fault.
    if (op.kind === 'cancel' && errorKindOf(error) === ErrorKind.Conflict) return;
    throw error;
  }
}

/** What Batch does eventually: every executor job ends (terminated ones as FAILED), and waits end. */
async function settle(deps: TestDeps): Promise<void> {
  for (let round = 0; round < 20; round++) {
    const jobs = [...deps.store.jobs.values()];
    if (jobs.every((j) => isTerminal(j.state))) return;
    for (const job of jobs) {
      if (job.state === JobState.RetryWait) await releaseRetry(deps, job.id);
      if ((job.state === JobState.Submitted || job.state === JobState.Running) && job.executorJobId) {
        const terminated = deps.executor.terminated.includes(job.executorJobId);
        await applyExecutorUpdate(deps, {
          executorJobId: job.executorJobId,
          jobName: executorJobName(job.type, job.id),
          status: terminated ? 'FAILED' : 'SUCCEEDED',
          exitCode: terminated ? 143 : 0,
        });
      }
    }
    await dispatchQueue(deps, 'q');
  }
}

function assertConsistent(deps: TestDeps, cancelled: ReadonlySet<string>): void {
  const jobs = [...deps.store.jobs.values()];
  const holding = jobs.filter((j) => j.holdsSlot);
  for (const job of holding)
    expect(activeStates.has(job.state), `${job.id} holds a slot in ${job.state}`).toBe(true);
  expect(deps.store.slots.get(queueSlotCounter('q'))?.used ?? 0).toBe(holding.length);
  for (const job of jobs) {
    expect(job.effectsPending ?? false, `${job.id} effects pending in ${job.state}`).toBe(false);
    expect(job.slotReleasePending ?? false).toBe(false);
  }
  for (const id of cancelled) {
    const job = deps.store.jobs.get(id) as Job;
    // Cancelled, unless it had already ended another way when the cancel arrived.
    if (job.state !== JobState.Cancelled) {
      expect([JobState.Succeeded, JobState.Failed]).toContain(job.state);
      continue;
    }
    // Whatever the job ran as when (or after) it was cancelled was terminated.
    for (const attempt of job.attempts.filter((a) => a.outcome === 'CANCELLED')) {
      expect(deps.executor.terminated).toContain(attempt.executorJobId);
    }
  }
}

describe('cancellation at any state (property: counters and slots always consistent)', () => {
  it('holds under every interleaving of dispatch, events, retry releases and cancels', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(opArbitrary, { minLength: 4, maxLength: 16 }),
        async (s, ops) => {
          const deps = testDeps({ catalog });
          const ids: string[] = [];
          for (let i = 0; i < JOBS; i++) {
            ids.push(
              (await submitJob(deps, SubmitRequestSchema.parse({ type: 'work' }), { kind: 'api' })).job.id,
            );
          }
          // Every store call of every operation below is a scheduling point.
          const racing = { ...deps, store: scheduledStore(deps.store, s) } as TestDeps;
          const cancelled = new Set(ops.flatMap((op) => (op.kind === 'cancel' ? [ids[op.job]!] : [])));
          // waitFor releases the scheduled store calls, in a random order, until every operation is done.
          await s.waitFor(Promise.all(ops.map((op) => run(racing, ids, op))));

          // Used slots never exceed the limit, whatever happened.
          expect(deps.store.slots.get(queueSlotCounter('q'))?.used ?? 0).toBeLessThanOrEqual(LIMIT);
          assertConsistent(deps, cancelled);
          await settle(deps);
          assertConsistent(deps, cancelled);
          expect([...deps.store.jobs.values()].every((j) => isTerminal(j.state))).toBe(true);
          expect(deps.store.slots.get(queueSlotCounter('q'))?.used ?? 0).toBe(0);
        },
      ),
      { numRuns: Number(process.env.OFFPEAK_PROPERTY_RUNS ?? 300) },
    );
  }, 120_000);
});
