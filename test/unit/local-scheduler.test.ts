import { afterEach, describe, expect, it } from 'vitest';
import { exampleJobTypes } from '../../config/job-types.js';
import { buildCatalogData, Catalog } from '../../src/core/catalog.js';
import type { IntakeMessage } from '../../src/core/requests.js';
import { LocalScheduler } from '../../src/local/local-scheduler.js';
import { makeSchedule } from '../support/schedule-store-contract.js';
import { ManualClock, RecordingQueue } from './support/fakes.js';
import { MemoryScheduleStore } from './support/memory-schedule-store.js';

const catalog = new Catalog(
  buildCatalogData({
    jobTypes: exampleJobTypes,
    triggers: {
      schedules: [{ id: 'daily', jobType: 'hello', expression: 'cron(0 2 * * ? *)', catchUp: 'latest' }],
    },
  }),
);

let scheduler: LocalScheduler | undefined;
afterEach(async () => {
  await scheduler?.stop();
});

function setup(start = '2026-11-23T10:00:00.000Z') {
  const clock = new ManualClock(new Date(start));
  const store = new MemoryScheduleStore();
  const intake = new RecordingQueue();
  scheduler = new LocalScheduler({ catalog, store, intake, clock, maxSleepMs: 60_000 });
  const sent = () => intake.messages.map((m) => m.body as IntakeMessage);
  return { clock, store, intake, scheduler, sent };
}

describe('LocalScheduler', () => {
  it('starts the cursor of a schedule it has never seen at now (no catch-up for the past)', async () => {
    const { store, scheduler, sent } = setup();
    await scheduler.start();
    expect(sent()).toEqual([]);
    expect((await store.getCursor('daily'))?.toISOString()).toBe('2026-11-23T10:00:00.000Z');
    expect(scheduler.nextDue()?.toISOString()).toBe('2026-11-24T02:00:00.000Z');
  });

  it('sends each due run once, with the message Scheduler would send', async () => {
    const { clock, scheduler, sent } = setup();
    await scheduler.start();
    clock.advance(16 * 3_600_000 + 500); // 02:00:00.5 next day
    await scheduler.runDue();
    await scheduler.runDue();
    expect(sent()).toEqual([
      expect.objectContaining({
        type: 'hello',
        idempotencyKey: 'schedule|daily|2026-11-24T02:00:00Z',
        trigger: { kind: 'schedule', source: 'schedule/daily', scheduledTime: '2026-11-24T02:00:00Z' },
      }),
    ]);
  });

  it('applies the catch-up policy from the stored cursor at start', async () => {
    const { clock, store, scheduler, sent } = setup('2026-11-27T09:00:00.000Z');
    await store.setCursor('daily', new Date('2026-11-23T10:00:00Z'));
    await scheduler.start();
    expect(sent()).toEqual([
      expect.objectContaining({
        trigger: expect.objectContaining({ scheduledTime: '2026-11-27T02:00:00Z', catchUp: true }),
      }),
    ]);
    expect((await store.getCursor('daily'))?.getTime()).toBe(clock.now().getTime());
  });

  it('takes API changes at once: a paused schedule sends nothing, a deleted one is gone', async () => {
    const { clock, scheduler, sent } = setup();
    await scheduler.start();
    await scheduler.put(
      makeSchedule({ id: 'h', expression: 'rate(1 hour)', createdAt: '2026-11-23T10:00:00.000Z' }),
    );
    clock.advance(3_600_000);
    await scheduler.runDue();
    expect(sent().map((m) => m.idempotencyKey)).toEqual(['schedule|h|2026-11-23T11:00:00Z']);
    await scheduler.put(makeSchedule({ id: 'h', enabled: false, createdAt: '2026-11-23T10:00:00.000Z' }));
    clock.advance(3_600_000);
    await scheduler.runDue();
    await scheduler.delete('h');
    clock.advance(3_600_000);
    await scheduler.runDue();
    expect(sent()).toHaveLength(1);
  });

  it('does not advance a schedule whose run could not be sent (the next pass resends it)', async () => {
    const { clock, intake, scheduler, sent } = setup();
    await scheduler.start();
    clock.advance(16 * 3_600_000);
    const send = intake.send.bind(intake);
    let failures = 1;
    intake.send = async (body, options) => {
      if (failures-- > 0) throw new Error('queue down');
      return send(body, options);
    };
    await scheduler.runDue();
    expect(sent()).toEqual([]);
    await scheduler.runDue();
    expect(sent().map((m) => m.idempotencyKey)).toEqual(['schedule|daily|2026-11-24T02:00:00Z']);
  });
});
