import { beforeEach, describe, expect, it } from 'vitest';
import { ConcurrentUpdateError } from '../../src/core/errors.js';
import { ScheduleOrigin, type ScheduleRecord } from '../../src/core/triggers/schedule.js';
import type { ScheduleStore } from '../../src/ports/schedule-store.js';

/** A schedule record for store tests. */
export function makeSchedule(overrides: Partial<ScheduleRecord> = {}): ScheduleRecord {
  return {
    id: 'hourly',
    origin: ScheduleOrigin.Api,
    jobType: 'hello',
    expression: 'rate(1 hour)',
    timezone: 'UTC',
    params: { name: 'Ada', nested: { list: [1, 2] } },
    enabled: true,
    catchUp: 'none',
    catchUpLimit: 10,
    createdAt: '2026-11-23T10:00:00.000Z',
    updatedAt: '2026-11-23T10:00:00.000Z',
    version: 0,
    ...overrides,
  };
}

/**
 * The ScheduleStore contract, run against every adapter (memory in unit tests, DynamoDB on dynalite in integration
 * tests), so the local and AWS stores cannot drift.
 * @param create a fresh, empty store; `now` is the store's clock (one-time records expire a month after their time)
 */
export function scheduleStoreContract(
  name: string,
  create: (now: () => Date) => Promise<ScheduleStore>,
): void {
  describe(`ScheduleStore contract: ${name}`, () => {
    let store: ScheduleStore;
    let now = new Date('2026-11-23T10:00:00Z');
    beforeEach(async () => {
      now = new Date('2026-11-23T10:00:00Z');
      store = await create(() => now);
    });

    it('creates once, reads back exactly, lists by id', async () => {
      expect(await store.createSchedule(makeSchedule({ id: 'b' }))).toBe(true);
      expect(await store.createSchedule(makeSchedule({ id: 'a', description: 'first' }))).toBe(true);
      expect(await store.createSchedule(makeSchedule({ id: 'a' }))).toBe(false);
      expect(await store.getSchedule('a')).toEqual(makeSchedule({ id: 'a', description: 'first' }));
      expect(await store.getSchedule('zzz')).toBeUndefined();
      expect((await store.listSchedules()).map((s) => s.id)).toEqual(['a', 'b']);
    });

    it('updates conditionally on the version', async () => {
      await store.createSchedule(makeSchedule());
      const stored = await store.updateSchedule(makeSchedule({ enabled: false }), 0);
      expect(stored.version).toBe(1);
      expect((await store.getSchedule('hourly'))?.enabled).toBe(false);
      await expect(store.updateSchedule(makeSchedule(), 0)).rejects.toBeInstanceOf(ConcurrentUpdateError);
      await expect(store.updateSchedule(makeSchedule({ id: 'gone' }), 0)).rejects.toBeInstanceOf(
        ConcurrentUpdateError,
      );
    });

    it('deletes', async () => {
      await store.createSchedule(makeSchedule());
      expect(await store.deleteSchedule('hourly')).toBe(true);
      expect(await store.deleteSchedule('hourly')).toBe(false);
      expect(await store.listSchedules()).toEqual([]);
    });

    it('keeps cursors apart from schedules, and never moves one back', async () => {
      await store.createSchedule(makeSchedule());
      expect(await store.getCursor('hourly')).toBeUndefined();
      await store.setCursor('hourly', new Date('2026-11-23T10:00:00Z'));
      await store.setCursor('hourly', new Date('2026-11-23T09:00:00Z'));
      expect((await store.getCursor('hourly'))?.toISOString()).toBe('2026-11-23T10:00:00.000Z');
      expect((await store.listSchedules()).map((s) => s.id)).toEqual(['hourly']);
      await store.deleteCursor('hourly');
      expect(await store.getCursor('hourly')).toBeUndefined();
    });
  });
}
