import { ulid } from 'ulid';
import { beforeEach, describe, expect, it } from 'vitest';
import { ConcurrentUpdateError, ValidationError } from '../../src/core/errors.js';
import { type Job, transitionJob } from '../../src/core/job.js';
import { JobState } from '../../src/core/job-state.js';
import type { QueueOrder } from '../../src/core/queue-spec.js';
import type { JobStore } from '../../src/ports/job-store.js';
import { makeJob, TestClock } from './jobs.js';

/** What every adapter under the contract is built with. */
export interface JobStoreFixture {
  /** Queue `stack` is LIFO; every other queue is FIFO. */
  readonly queueOrder: (queue: string) => QueueOrder;
  /** The store's clock (idempotency expiry, the current month when listing all jobs). */
  readonly clock: TestClock;
}

export const CONTRACT_NOW = '2025-06-15T12:00:00.000Z';

/**
 * The JobStore port's contract (design §8: one suite, every adapter). `makeStore` must return a store over empty
 * storage on every call; it runs before each test.
 *
 * @example jobStoreContract('DynamoJobStore', async ({ queueOrder, clock }) => new DynamoJobStore({ … }));
 */
export function jobStoreContract(
  name: string,
  makeStore: (fixture: JobStoreFixture) => Promise<JobStore>,
): void {
  describe(`JobStore contract: ${name}`, () => {
    let store: JobStore;
    let clock: TestClock;
    const at = (iso: string) => new Date(iso);
    /** Distinct, increasing creation times (ULIDs from distinct milliseconds sort by creation). */
    const minute = (n: number) => new Date(Date.parse('2025-06-10T00:00:00.000Z') + n * 60_000);

    beforeEach(async () => {
      clock = new TestClock(CONTRACT_NOW);
      store = await makeStore({ queueOrder: (queue) => (queue === 'stack' ? 'lifo' : 'fifo'), clock });
    });

    async function createAll(jobs: Job[]): Promise<Job[]> {
      const results = await Promise.all(jobs.map((job) => store.createJob(job)));
      expect(results.every(Boolean)).toBe(true);
      return jobs;
    }

    async function listAllPages(query: { state?: Job['state']; type?: string; limit: number }) {
      const pages: Job[][] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listJobs({ ...query, ...(cursor !== undefined ? { cursor } : {}) });
        expect(page.items.length).toBeLessThanOrEqual(query.limit);
        pages.push(page.items);
        cursor = page.cursor;
      } while (cursor !== undefined && pages.length < 100);
      return pages;
    }

    describe('jobs', () => {
      it('creates a job once and reads it back unchanged', async () => {
        const job = makeJob({
          params: { name: 'ada', nested: { list: [1, 'two', null, true], empty: '' } },
          idempotencyKey: 'hello#k1',
          trigger: { kind: 'schedule', source: 'sched-1', actor: 'arn:aws:iam::1:role/x' },
          dependsOn: [ulid()],
          runSpec: {
            typeVersion: 'abc',
            jobDefinition: 'arn:def:1',
            image: 'busybox',
            command: ['sh', '-c', 'true'],
          },
        });

        expect(await store.createJob(job)).toBe(true);
        expect(await store.createJob({ ...job, priority: 1 })).toBe(false);

        expect(await store.getJob(job.id)).toEqual(job);
        expect(await store.getJob(ulid())).toBeUndefined();
      });

      it('does not store undefined values', async () => {
        const job = { ...makeJob(), retryAt: undefined, error: undefined };

        await store.createJob(job);

        const stored = await store.getJob(job.id);
        expect(stored).toBeDefined();
        expect(Object.keys(stored ?? {})).not.toContain('retryAt');
        expect(Object.keys(stored ?? {})).not.toContain('error');
      });

      it('updates with the expected version, and refuses a stale or missing one', async () => {
        const job = makeJob();
        await store.createJob(job);

        const next = transitionJob(job, JobState.Submitting, at('2025-06-15T12:00:01Z'), { holdsSlot: true });
        const stored = await store.updateJob(next, 0);

        expect(stored.version).toBe(1);
        expect(stored.state).toBe(JobState.Submitting);
        expect(await store.getJob(job.id)).toEqual({ ...next, version: 1 });
        await expect(store.updateJob({ ...next, priority: 3 }, 0)).rejects.toBeInstanceOf(
          ConcurrentUpdateError,
        );
        expect((await store.getJob(job.id))?.priority).toBe(job.priority);
        await expect(store.updateJob(makeJob(), 0)).rejects.toBeInstanceOf(ConcurrentUpdateError);
        expect(await store.getJobs([job.id, ulid()])).toHaveLength(1);
      });

      it('drops optional fields that the new version no longer has', async () => {
        const job = makeJob({ state: JobState.RetryWait, retryAt: '2025-06-15T12:05:00.000Z', exitCode: 3 });
        await store.createJob(job);

        const { retryAt: _retryAt, exitCode: _exitCode, ...rest } = job;
        await store.updateJob(transitionJob(rest as Job, JobState.Queued, at('2025-06-15T12:05:00Z')), 0);

        const stored = await store.getJob(job.id);
        expect(stored?.state).toBe(JobState.Queued);
        expect(stored?.retryAt).toBeUndefined();
        expect(stored?.exitCode).toBeUndefined();
      });

      it('lets exactly one of two concurrent claims of the same job win', async () => {
        const job = makeJob();
        await store.createJob(job);
        const claim = (executor: string) =>
          store.updateJob(
            transitionJob(job, JobState.Submitting, at('2025-06-15T12:00:01Z'), { statusReason: executor }),
            job.version,
          );

        const results = await Promise.allSettled([claim('a'), claim('b')]);

        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r) => r.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(1);
        expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(ConcurrentUpdateError);
        const stored = await store.getJob(job.id);
        expect(stored?.version).toBe(1);
        expect(stored?.statusReason).toBe((won[0] as PromiseFulfilledResult<Job>).value.statusReason);
        expect(await store.queuedJobs('normal', 10)).toEqual([]);
      });

      it('reads many jobs at once, leaving out missing ids', async () => {
        const jobs = await createAll(Array.from({ length: 130 }, (_, i) => makeJob({}, minute(i))));
        const ids = [...jobs.map((j) => j.id), ulid(), ulid(), jobs[0]!.id];

        const found = await store.getJobs(ids);

        expect(found.map((j) => j.id).sort()).toEqual(jobs.map((j) => j.id).sort());
        expect(await store.getJobs([])).toEqual([]);
      });
    });

    describe('queue order', () => {
      it('returns queued jobs by priority, then oldest first (FIFO)', async () => {
        const [low, oldNormal, newNormal, high] = await createAll([
          makeJob({ priority: 100 }, minute(1)),
          makeJob({ priority: 500 }, minute(2)),
          makeJob({ priority: 500 }, minute(3)),
          makeJob({ priority: 1000 }, minute(4)),
        ]);
        await createAll([
          makeJob({ queue: 'low' }, minute(5)),
          makeJob({ state: JobState.Waiting }, minute(6)),
        ]);

        const queued = await store.queuedJobs('normal', 10);

        expect(queued.map((j) => j.id)).toEqual([high!.id, oldNormal!.id, newNormal!.id, low!.id]);
        expect((await store.queuedJobs('normal', 2)).map((j) => j.id)).toEqual([high!.id, oldNormal!.id]);
      });

      it('returns queued jobs by priority, then newest first in a LIFO queue', async () => {
        const jobs = await createAll([
          makeJob({ queue: 'stack', priority: 0 }, minute(1)),
          makeJob({ queue: 'stack', priority: 500 }, minute(2)),
          makeJob({ queue: 'stack', priority: 500 }, minute(3)),
          makeJob({ queue: 'stack', priority: 500 }, minute(4)),
          makeJob({ queue: 'stack', priority: 0 }, minute(5)),
        ]);
        const [a, b, c, d, e] = jobs.map((j) => j.id);

        const queued = await store.queuedJobs('stack', 10);

        expect(queued.map((j) => j.id)).toEqual([d, c, b, e, a]);
      });

      it('pages past a given job, in FIFO and LIFO queues alike', async () => {
        const fifo = await createAll([
          makeJob({ priority: 900 }, minute(1)),
          makeJob({ priority: 500 }, minute(2)),
          makeJob({ priority: 500 }, minute(3)),
          makeJob({ priority: 100 }, minute(4)),
        ]);
        const lifo = await createAll([
          makeJob({ queue: 'stack', priority: 500 }, minute(5)),
          makeJob({ queue: 'stack', priority: 500 }, minute(6)),
          makeJob({ queue: 'stack', priority: 500 }, minute(7)),
        ]);

        const first = await store.queuedJobs('normal', 2);
        const rest = await store.queuedJobs('normal', 10, first[1]);
        expect([...first, ...rest].map((j) => j.id)).toEqual(fifo.map((j) => j.id));
        expect(await store.queuedJobs('normal', 10, fifo[3])).toEqual([]);

        const top = await store.queuedJobs('stack', 1);
        expect(top.map((j) => j.id)).toEqual([lifo[2]!.id]);
        expect((await store.queuedJobs('stack', 10, top[0])).map((j) => j.id)).toEqual([
          lifo[1]!.id,
          lifo[0]!.id,
        ]);
      });

      it('counts waiting jobs up to a cap', async () => {
        await createAll(Array.from({ length: 7 }, (_, i) => makeJob({}, minute(i))));
        await createAll([
          makeJob({ queue: 'low' }, minute(20)),
          makeJob({ state: JobState.Waiting }, minute(21)),
        ]);

        expect(await store.countQueued('normal', 100)).toBe(7);
        expect(await store.countQueued('normal', 5)).toBe(5);
        expect(await store.countQueued('low', 100)).toBe(1);
        expect(await store.countQueued('empty', 100)).toBe(0);
      });

      it('takes a job out of the queue when it leaves QUEUED and back when it returns', async () => {
        const [first, second] = await createAll([makeJob({}, minute(1)), makeJob({}, minute(2))]);
        const claimed = await store.updateJob(
          transitionJob(first!, JobState.Submitting, at('2025-06-15T12:00:00Z')),
          0,
        );

        expect((await store.queuedJobs('normal', 10)).map((j) => j.id)).toEqual([second!.id]);

        await store.updateJob(transitionJob(claimed, JobState.Queued, at('2025-06-15T12:00:01Z')), 1);

        expect((await store.queuedJobs('normal', 10)).map((j) => j.id)).toEqual([first!.id, second!.id]);
      });
    });

    describe('listing', () => {
      it('lists by state, newest state change first, across pages', async () => {
        const jobs = await createAll(
          Array.from({ length: 7 }, (_, i) =>
            makeJob({ state: JobState.Running, stateChangedAt: minute(i).toISOString() }, minute(i)),
          ),
        );
        await createAll([makeJob({ state: JobState.Failed }, minute(20))]);

        const pages = await listAllPages({ state: JobState.Running, limit: 3 });

        expect(pages.map((p) => p.length).slice(0, 3)).toEqual([3, 3, 1]);
        expect(pages.flat().map((j) => j.id)).toEqual(jobs.map((j) => j.id).reverse());
      });

      it('lists by type, newest first, and filters by state while still filling pages', async () => {
        const jobs = await createAll(
          Array.from({ length: 24 }, (_, i) =>
            makeJob({ type: 'report', state: i % 4 === 0 ? JobState.Succeeded : JobState.Failed }, minute(i)),
          ),
        );
        await createAll([makeJob({ type: 'other', state: JobState.Succeeded }, minute(30))]);
        const succeeded = jobs.filter((j) => j.state === JobState.Succeeded).map((j) => j.id);

        const byType = await listAllPages({ type: 'report', limit: 10 });
        const firstFiltered = await store.listJobs({ type: 'report', state: JobState.Succeeded, limit: 4 });
        const filtered = await listAllPages({ type: 'report', state: JobState.Succeeded, limit: 4 });

        expect(byType.flat().map((j) => j.id)).toEqual(jobs.map((j) => j.id).reverse());
        expect(firstFiltered.items).toHaveLength(4);
        expect(firstFiltered.cursor).toBeDefined();
        expect(filtered.flat().map((j) => j.id)).toEqual([...succeeded].reverse());
      });

      it('lists all jobs newest first across creation months', async () => {
        const jobs = await createAll([
          makeJob({}, at('2023-03-05T00:00:00Z')),
          makeJob({}, at('2024-12-01T00:00:00Z')),
          makeJob({ state: JobState.Succeeded }, at('2025-05-10T00:00:00Z')),
          makeJob({}, at('2025-06-01T00:00:00Z')),
          makeJob({ type: 'other' }, at('2025-06-02T00:00:00Z')),
        ]);

        const pages = await listAllPages({ limit: 2 });

        expect(pages.flat().map((j) => j.id)).toEqual(jobs.map((j) => j.id).reverse());
        expect(pages[0]).toHaveLength(2);
      });

      it('returns an empty page when nothing matches', async () => {
        expect(await store.listJobs({ limit: 10 })).toEqual({ items: [] });
        expect(await store.listJobs({ state: JobState.Queued, limit: 10 })).toEqual({ items: [] });
        expect(await store.listJobs({ type: 'nothing', state: JobState.Queued, limit: 10 })).toEqual({
          items: [],
        });
      });

      it('refuses malformed cursors and cursors of another listing', async () => {
        await createAll(Array.from({ length: 3 }, (_, i) => makeJob({ state: JobState.Running }, minute(i))));
        const { cursor } = await store.listJobs({ state: JobState.Running, limit: 1 });
        expect(cursor).toBeDefined();

        for (const bad of [
          'not-a-cursor',
          'e30',
          Buffer.from('[1]').toString('base64url'),
          cursor!.slice(0, -3),
        ]) {
          await expect(store.listJobs({ limit: 5, cursor: bad })).rejects.toMatchObject({
            code: 'InvalidCursor',
          });
        }
        await expect(store.listJobs({ type: 'hello', limit: 5, cursor })).rejects.toBeInstanceOf(
          ValidationError,
        );
        await expect(store.listJobs({ state: JobState.Queued, limit: 5, cursor })).rejects.toMatchObject({
          code: 'InvalidCursor',
        });
      });

      it('finds jobs that entered a state before a time, oldest first', async () => {
        const jobs = await createAll(
          Array.from({ length: 5 }, (_, i) =>
            makeJob({ state: JobState.Submitting, stateChangedAt: minute(i).toISOString() }, minute(i)),
          ),
        );
        await createAll([
          makeJob({ state: JobState.Running, stateChangedAt: minute(0).toISOString() }, minute(9)),
        ]);

        const stale = await store.jobsInStateSince(JobState.Submitting, minute(3), 10);
        const limited = await store.jobsInStateSince(JobState.Submitting, minute(3), 2);

        expect(stale.map((j) => j.id)).toEqual(jobs.slice(0, 3).map((j) => j.id));
        expect(limited.map((j) => j.id)).toEqual(jobs.slice(0, 2).map((j) => j.id));
        const window = await store.jobsInStateSince(JobState.Submitting, minute(4), 10, minute(1));
        expect(window.map((j) => j.id)).toEqual(jobs.slice(1, 4).map((j) => j.id));
      });
    });

    describe('idempotency keys', () => {
      it('claims a key once and returns its owner to duplicates', async () => {
        const expires = at('2025-06-16T12:00:00Z');

        expect(await store.claimIdempotencyKey('hello#k', 'job-1', expires)).toEqual({ claimed: true });
        expect(await store.claimIdempotencyKey('hello#k', 'job-2', expires)).toEqual({
          claimed: false,
          jobId: 'job-1',
        });
        expect(await store.claimIdempotencyKey('hello#other', 'job-3', expires)).toEqual({ claimed: true });
      });

      it('lets exactly one of many concurrent claims of a key win', async () => {
        const expires = at('2025-06-16T12:00:00Z');

        const claims = await Promise.all(
          Array.from({ length: 8 }, (_, i) => store.claimIdempotencyKey('hello#race', `job-${i}`, expires)),
        );

        const winners = claims.flatMap((c, i) => (c.claimed ? [`job-${i}`] : []));
        expect(winners).toHaveLength(1);
        for (const claim of claims) if (!claim.claimed) expect(claim.jobId).toBe(winners[0]);
      });

      it('treats an expired key as free', async () => {
        await store.claimIdempotencyKey('hello#k', 'job-1', at('2025-06-15T12:00:10Z'));
        clock.advance(5_000);
        expect(
          (await store.claimIdempotencyKey('hello#k', 'job-2', at('2025-06-16T00:00:00Z'))).claimed,
        ).toBe(false);

        clock.advance(10_000);

        expect(await store.claimIdempotencyKey('hello#k', 'job-3', at('2025-06-16T00:00:00Z'))).toEqual({
          claimed: true,
        });
        expect(await store.claimIdempotencyKey('hello#k', 'job-4', at('2025-06-16T00:00:00Z'))).toEqual({
          claimed: false,
          jobId: 'job-3',
        });
      });

      it('releases a key so it can be claimed again', async () => {
        const expires = at('2025-06-16T12:00:00Z');
        await store.claimIdempotencyKey('hello#k', 'job-1', expires);

        expect(await store.releaseIdempotencyKey('hello#k')).toBe(true);
        expect(await store.releaseIdempotencyKey('hello#k')).toBe(false);
        expect(await store.claimIdempotencyKey('hello#k', 'job-2', expires)).toEqual({ claimed: true });
      });
    });

    describe('concurrency slots', () => {
      it('never hands out more slots than the limit under concurrent acquires', async () => {
        const acquired = await Promise.all(
          Array.from({ length: 20 }, () => store.acquireSlot('queue#normal', 5)),
        );

        expect(acquired.filter(Boolean)).toHaveLength(5);
        expect((await store.slotUsage('queue#normal')).used).toBe(5);
        expect(await store.acquireSlot('queue#normal', 5)).toBe(false);
        expect(await store.acquireSlot('queue#normal', 6)).toBe(true);
        expect(await store.acquireSlot('queue#other', 1)).toBe(true);
      });

      it('gives slots back, never below zero', async () => {
        await store.acquireSlot('c', 2);
        await store.acquireSlot('c', 2);

        await Promise.all([store.releaseSlot('c'), store.releaseSlot('c'), store.releaseSlot('c')]);
        await store.releaseSlot('never-used');

        expect((await store.slotUsage('c')).used).toBe(0);
        expect((await store.slotUsage('never-used')).used).toBe(0);
        expect(await store.acquireSlot('c', 1)).toBe(true);
        expect(await store.acquireSlot('c', 1)).toBe(false);
      });

      it('takes and gives back several units at once, within the limit', async () => {
        expect(await store.acquireSlot('resource#db', 3, 2)).toBe(true);
        expect(await store.acquireSlot('resource#db', 3, 2)).toBe(false);
        expect(await store.acquireSlot('resource#db', 3, 1)).toBe(true);
        expect(await store.acquireSlot('resource#other', 1, 2)).toBe(false);
        expect((await store.slotUsage('resource#db')).used).toBe(3);

        await store.releaseSlot('resource#db', 2);
        expect((await store.slotUsage('resource#db')).used).toBe(1);
        await store.releaseSlot('resource#db', 2);
        expect((await store.slotUsage('resource#db')).used).toBe(1);
        const concurrent = await Promise.all(
          Array.from({ length: 10 }, () => store.acquireSlot('resource#db', 7, 2)),
        );
        expect(concurrent.filter(Boolean)).toHaveLength(3);
        expect((await store.slotUsage('resource#db')).used).toBe(7);
      });

      it('ignores a release that repeats the last release of the same claim', async () => {
        await store.acquireSlot('c', 5);
        await store.acquireSlot('c', 5);
        await store.acquireSlot('c', 5);

        await store.releaseSlot('c', 1, 'job-1@1');
        await store.releaseSlot('c', 1, 'job-1@1');
        expect((await store.slotUsage('c')).used).toBe(2);
        await store.releaseSlot('c', 1, 'job-2@4');
        await store.releaseSlot('c', 1, 'job-1@7');
        expect((await store.slotUsage('c')).used).toBe(0);
      });

      it('records when a counter last changed', async () => {
        expect((await store.slotUsage('c')).changedAt).toBeUndefined();
        await store.acquireSlot('c', 5);
        expect((await store.slotUsage('c')).changedAt).toBe(CONTRACT_NOW);
        clock.advance(1_000);
        await store.releaseSlot('c');
        expect((await store.slotUsage('c')).changedAt).toBe('2025-06-15T12:00:01.000Z');
        clock.advance(1_000);
        const read = await store.slotUsage('c');
        await store.resetSlots('c', 0, read.version);
        expect((await store.slotUsage('c')).changedAt).toBe('2025-06-15T12:00:02.000Z');
      });

      it('resets usage only at the version it was read at', async () => {
        expect(await store.slotUsage('c')).toEqual({ used: 0, version: 0 });
        expect(await store.resetSlots('c', 2, 0)).toBe(true);
        const read = await store.slotUsage('c');
        expect(read.used).toBe(2);

        await store.acquireSlot('c', 10);

        expect(await store.resetSlots('c', 0, read.version)).toBe(false);
        const reread = await store.slotUsage('c');
        expect(reread.used).toBe(3);
        expect(await store.resetSlots('c', 1, reread.version)).toBe(true);
        expect((await store.slotUsage('c')).used).toBe(1);
      });
    });

    describe('dependents', () => {
      it('records dependents idempotently and lists them all', async () => {
        const upstream = ulid();
        const dependents = Array.from({ length: 40 }, (_, i) => ulid(minute(i).getTime()));

        await Promise.all(dependents.map((d) => store.addDependent(upstream, d)));
        await store.addDependent(upstream, dependents[0]!);
        await store.addDependent(ulid(), dependents[1]!);

        expect((await store.dependentsOf(upstream)).sort()).toEqual([...dependents].sort());
        expect(await store.dependentsOf(ulid())).toEqual([]);
      });
    });
  });
}
