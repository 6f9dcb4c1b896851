import { beforeEach, describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../src/core/dead-letter.js';
import { ConcurrentUpdateError, ValidationError } from '../../src/core/errors.js';
import type { DeadLetterStore } from '../../src/ports/dead-letter-store.js';

/** A valid open dead letter, dead at `at`, with `overrides` applied. */
export function makeDeadLetter(
  overrides: Partial<DeadLetter> = {},
  at = '2025-06-10T00:00:00.000Z',
): DeadLetter {
  const kind = overrides.kind ?? 'job';
  return {
    id: `job-${Math.random().toString(36).slice(2, 12).toUpperCase()}-1`,
    kind,
    status: 'open',
    createdAt: at,
    reason: 'attempt 1 of 1 failed; no attempts left (ExitCode3: exit code 3)',
    ...(kind === 'job'
      ? {
          type: 'hello',
          jobId: '01KAQZ0000000000000000000A',
          job: {
            state: 'FAILED' as const,
            queue: 'normal',
            attempt: 1,
            maxAttempts: 1,
            params: { name: 'x' },
            trigger: { kind: 'api' as const },
            exitCode: 3,
            attempts: [{ attempt: 1, exitCode: 3, outcome: 'FAILED' as const }],
            history: [{ state: 'FAILED' as const, at }],
            createdAt: at,
            finishedAt: at,
          },
          logLines: ['a', 'b'],
        }
      : {
          message: {
            source: 'intake' as const,
            redriveTo: 'intake' as const,
            messageId: 'm-1',
            body: '{"type":"nope"}',
            attributes: { ApproximateReceiveCount: '6' },
            messageAttributes: {},
            receiveCount: 6,
          },
        }),
    updatedAt: at,
    version: 0,
    ...overrides,
  };
}

/**
 * The DeadLetterStore port's contract (design §8: one suite, every adapter). `makeStore` returns a store over empty
 * storage; it runs before each test.
 */
export function deadLetterStoreContract(name: string, makeStore: () => Promise<DeadLetterStore>): void {
  describe(`DeadLetterStore contract: ${name}`, () => {
    let store: DeadLetterStore;
    const minute = (n: number) => new Date(Date.parse('2025-06-10T00:00:00.000Z') + n * 60_000).toISOString();

    beforeEach(async () => {
      store = await makeStore();
    });

    it('puts a dead letter once (the second put of an id is refused) and reads it back whole', async () => {
      const record = makeDeadLetter();
      expect(await store.putDeadLetter(record)).toBe(true);
      expect(await store.putDeadLetter({ ...record, reason: 'other' })).toBe(false);
      expect(await store.getDeadLetter(record.id)).toEqual(record);
      expect(await store.getDeadLetter('job-NOPE-1')).toBeUndefined();
      const message = makeDeadLetter({ id: 'msg-m-1', kind: 'message' });
      await store.putDeadLetter(message);
      expect(await store.getDeadLetter('msg-m-1')).toEqual(message);
      expect(
        (await store.getDeadLetters([record.id, 'msg-m-1', 'job-NOPE-1', record.id])).map((r) => r.id).sort(),
      ).toEqual([record.id, 'msg-m-1'].sort());
    });

    it('lists newest first, by status, kind, type and time range, page by page', async () => {
      const records = [
        makeDeadLetter({ id: 'job-A-1', type: 'hello' }, minute(1)),
        makeDeadLetter({ id: 'job-B-1', type: 'backup' }, minute(2)),
        makeDeadLetter({ id: 'msg-C', kind: 'message' }, minute(3)),
        makeDeadLetter({ id: 'job-D-1', type: 'hello' }, minute(4)),
        makeDeadLetter({ id: 'msg-E', kind: 'message', type: 'hello' }, minute(5)),
        makeDeadLetter({ id: 'job-F-1', type: 'hello', status: 'redriven' }, minute(6)),
      ];
      for (const record of records) await store.putDeadLetter(record);
      const ids = async (query: Parameters<DeadLetterStore['listDeadLetters']>[0]) => {
        const all: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await store.listDeadLetters({ ...query, ...(cursor ? { cursor } : {}) });
          expect(page.items.length).toBeLessThanOrEqual(query.limit);
          all.push(...page.items.map((r) => r.id));
          cursor = page.cursor;
        } while (cursor);
        return all;
      };
      expect(await ids({ status: 'open', limit: 2 })).toEqual([
        'msg-E',
        'job-D-1',
        'msg-C',
        'job-B-1',
        'job-A-1',
      ]);
      expect(await ids({ status: 'redriven', limit: 10 })).toEqual(['job-F-1']);
      expect(await ids({ status: 'open', kind: 'message', limit: 1 })).toEqual(['msg-E', 'msg-C']);
      expect(await ids({ status: 'open', type: 'hello', limit: 2 })).toEqual(['msg-E', 'job-D-1', 'job-A-1']);
      expect(await ids({ status: 'open', type: 'hello', kind: 'job', limit: 1 })).toEqual([
        'job-D-1',
        'job-A-1',
      ]);
      expect(
        await ids({ status: 'open', from: new Date(minute(2)), to: new Date(minute(4)), limit: 10 }),
      ).toEqual(['msg-C', 'job-B-1']);
      expect(await ids({ status: 'open', from: new Date(minute(4)), limit: 10 })).toEqual([
        'msg-E',
        'job-D-1',
      ]);
      expect(await ids({ status: 'open', to: new Date(minute(2)), limit: 10 })).toEqual(['job-A-1']);
    });

    it('refuses a cursor of another listing or a malformed one', async () => {
      for (let i = 0; i < 3; i++) await store.putDeadLetter(makeDeadLetter({ id: `job-X${i}-1` }, minute(i)));
      const page = await store.listDeadLetters({ status: 'open', limit: 1 });
      expect(page.cursor).toBeDefined();
      await expect(
        store.listDeadLetters({ status: 'open', kind: 'job', limit: 1, cursor: page.cursor! }),
      ).rejects.toBeInstanceOf(ValidationError);
      await expect(
        store.listDeadLetters({ status: 'open', limit: 1, cursor: 'garbage' }),
      ).rejects.toBeInstanceOf(ValidationError);
    });

    it('updates on the expected version only, moving a record between statuses', async () => {
      const record = makeDeadLetter({ id: 'job-U-1' });
      await store.putDeadLetter(record);
      const redriven = await store.updateDeadLetter(
        { ...record, status: 'redriven', redrive: { at: minute(9), attempt: 2 } },
        0,
      );
      expect(redriven.version).toBe(1);
      await expect(store.updateDeadLetter({ ...record, reason: 'late' }, 0)).rejects.toBeInstanceOf(
        ConcurrentUpdateError,
      );
      expect((await store.listDeadLetters({ status: 'open', limit: 10 })).items).toEqual([]);
      expect((await store.listDeadLetters({ status: 'redriven', limit: 10 })).items.map((r) => r.id)).toEqual(
        ['job-U-1'],
      );
      await expect(store.updateDeadLetter(makeDeadLetter({ id: 'job-NONE-1' }), 0)).rejects.toBeInstanceOf(
        ConcurrentUpdateError,
      );
    });

    it('deletes, saying whether there was something to delete', async () => {
      const record = makeDeadLetter({ id: 'job-DEL-1' });
      await store.putDeadLetter(record);
      expect(await store.deleteDeadLetter('job-DEL-1')).toBe(true);
      expect(await store.deleteDeadLetter('job-DEL-1')).toBe(false);
      expect(await store.getDeadLetter('job-DEL-1')).toBeUndefined();
      expect((await store.listDeadLetters({ status: 'open', limit: 10 })).items).toEqual([]);
    });

    it('keeps the last failure note of a message', async () => {
      expect(await store.messageFailure('m-9')).toBeUndefined();
      const note = {
        messageId: 'm-9',
        source: 'intake',
        error: { name: 'Error', message: 'one' },
        at: minute(1),
      };
      await store.noteMessageFailure(note);
      await store.noteMessageFailure({ ...note, error: { name: 'Error', message: 'two' }, receiveCount: 2 });
      expect(await store.messageFailure('m-9')).toEqual({
        ...note,
        error: { name: 'Error', message: 'two' },
        receiveCount: 2,
      });
    });
  });
}
