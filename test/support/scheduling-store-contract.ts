import { beforeEach, describe, expect, it } from 'vitest';
import { ConcurrentUpdateError } from '../../src/core/errors.js';
import type { Pipeline } from '../../src/core/pipeline.js';
import type { SchedulingStore } from '../../src/ports/scheduling-store.js';
import { TestClock } from './jobs.js';

export const SCHEDULING_NOW = '2025-06-15T12:00:00.000Z';

/**
 * The SchedulingStore port's contract, run against every adapter. `makeStore` must return a store over empty storage
 * on every call, reading time from `clock`.
 */
export function schedulingStoreContract(
  name: string,
  makeStore: (fixture: { readonly clock: TestClock }) => Promise<SchedulingStore>,
): void {
  describe(`SchedulingStore contract: ${name}`, () => {
    let store: SchedulingStore;
    let clock: TestClock;

    beforeEach(async () => {
      clock = new TestClock(SCHEDULING_NOW);
      store = await makeStore({ clock });
    });

    describe('limit overrides', () => {
      it('patches, reads back and removes queue and resource overrides', async () => {
        expect(await store.limitOverrides()).toEqual({ queues: {}, resources: {} });
        expect(await store.patchQueue('normal', { concurrency: 3 })).toEqual({
          concurrency: 3,
          updatedAt: SCHEDULING_NOW,
        });
        clock.advance(1_000);
        expect(await store.patchQueue('normal', { paused: true })).toEqual({
          concurrency: 3,
          paused: true,
          updatedAt: '2025-06-15T12:00:01.000Z',
        });
        await store.patchResource('warehouse-db', { limit: 0 });
        expect(await store.patchQueue('normal', { concurrency: null })).toEqual({
          paused: true,
          updatedAt: '2025-06-15T12:00:01.000Z',
        });
        expect(await store.limitOverrides()).toEqual({
          queues: { normal: { paused: true, updatedAt: '2025-06-15T12:00:01.000Z' } },
          resources: { 'warehouse-db': { limit: 0, updatedAt: '2025-06-15T12:00:01.000Z' } },
        });
      });
    });

    describe('token buckets', () => {
      const rate = { limit: 10, periodSeconds: 1, burst: 5 };

      it('starts full, refills with time, and tells when the next token is due', async () => {
        expect(await store.takeTokens('b', rate, 3)).toEqual({ granted: 3, retryAfterMs: 0 });
        expect(await store.takeTokens('b', rate, 3)).toEqual({ granted: 2, retryAfterMs: 0 });
        expect(await store.takeTokens('b', rate, 1)).toEqual({ granted: 0, retryAfterMs: 100 });
        clock.advance(250);
        expect(await store.takeTokens('b', rate, 5)).toEqual({ granted: 2, retryAfterMs: 0 });
        expect(await store.takeTokens('other', rate, 5)).toEqual({ granted: 5, retryAfterMs: 0 });
      });

      it('never grants more than the bucket holds to concurrent takers', async () => {
        const grants = await Promise.all(Array.from({ length: 12 }, () => store.takeTokens('hot', rate, 1)));
        expect(grants.reduce((sum, g) => sum + g.granted, 0)).toBe(5);
      });

      it('blocks a bucket for a back-off that every taker sees', async () => {
        await store.blockTokens('b', rate, 2_000);
        expect(await store.takeTokens('b', rate, 1)).toEqual({ granted: 0, retryAfterMs: 2_000 });
        clock.advance(2_000);
        expect((await store.takeTokens('b', rate, 5)).granted).toBe(5);
      });
    });

    describe('alerts', () => {
      it('lets one caller raise an alert per interval', async () => {
        const claims = await Promise.all(
          Array.from({ length: 5 }, () => store.claimAlert('queue#x#QUEUED', 60_000)),
        );
        expect(claims.filter(Boolean)).toHaveLength(1);
        clock.advance(59_999);
        expect(await store.claimAlert('queue#x#QUEUED', 60_000)).toBe(false);
        expect(await store.claimAlert('queue#y#QUEUED', 60_000)).toBe(true);
        clock.advance(1);
        expect(await store.claimAlert('queue#x#QUEUED', 60_000)).toBe(true);
      });
    });

    describe('pipelines', () => {
      const pipeline = (id: string, createdAt: string, created = false): Pipeline => ({
        id,
        name: 'etl',
        trigger: { kind: 'api', source: 'POST /pipelines' },
        steps: [
          {
            id: 'extract',
            type: 'work',
            params: { nested: { list: [1, 'two'] } },
            dependsOn: [],
            triggerRule: 'all_success',
            jobId: `${id}-1`,
          },
          {
            id: 'load',
            type: 'work',
            params: {},
            dependsOn: ['extract'],
            triggerRule: 'all_done',
            input: { fromStep: 'extract' },
            jobId: `${id}-2`,
          },
        ],
        created,
        createdAt,
        updatedAt: createdAt,
        version: 0,
      });

      it('creates a pipeline once and reads it back unchanged', async () => {
        const p = pipeline('P1', SCHEDULING_NOW);
        expect(await store.createPipeline(p)).toBe(true);
        expect(await store.createPipeline({ ...p, name: 'other' })).toBe(false);
        expect(await store.getPipeline('P1')).toEqual(p);
        expect(await store.getPipeline('nope')).toBeUndefined();
      });

      it('updates at the expected version only', async () => {
        const p = pipeline('P1', SCHEDULING_NOW);
        await store.createPipeline(p);
        const updated = await store.updatePipeline({ ...p, created: true, cancelRequested: true }, 0);
        expect(updated).toMatchObject({ version: 1, created: true, cancelRequested: true });
        expect(await store.getPipeline('P1')).toEqual(updated);
        await expect(store.updatePipeline({ ...p, name: 'late' }, 0)).rejects.toBeInstanceOf(
          ConcurrentUpdateError,
        );
        await expect(store.updatePipeline(pipeline('P9', SCHEDULING_NOW), 0)).rejects.toBeInstanceOf(
          ConcurrentUpdateError,
        );
      });

      it('lists unfinished pipelines created before a time, oldest first', async () => {
        await store.createPipeline(pipeline('P2', '2025-06-15T11:00:02.000Z'));
        await store.createPipeline(pipeline('P1', '2025-06-15T11:00:01.000Z'));
        await store.createPipeline(pipeline('P3', '2025-06-15T11:59:59.000Z'));
        const done = pipeline('P4', '2025-06-15T11:00:00.000Z');
        await store.createPipeline(done);
        await store.updatePipeline({ ...done, created: true }, 0);

        const unfinished = await store.unfinishedPipelines(new Date('2025-06-15T11:30:00.000Z'), 10);
        expect(unfinished.map((p) => p.id)).toEqual(['P1', 'P2']);
        expect((await store.unfinishedPipelines(new Date(SCHEDULING_NOW), 1)).map((p) => p.id)).toEqual([
          'P1',
        ]);
      });
    });
  });
}
