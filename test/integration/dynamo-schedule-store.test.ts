import { describe, expect, it } from 'vitest';
import { DynamoScheduleStore } from '../../src/aws/dynamo-schedule-store.js';
import { ensureTable } from '../../src/local/resources.js';
import { uniqueName, useEmulators } from '../support/emulators.js';
import { makeSchedule, scheduleStoreContract } from '../support/schedule-store-contract.js';

const harness = useEmulators();

async function freshStore(now: () => Date) {
  const { clients } = harness();
  const tableName = uniqueName('schedules');
  await ensureTable(clients.dynamodb, tableName);
  return new DynamoScheduleStore({ client: clients.documentClient, tableName, clock: { now } });
}

scheduleStoreContract('DynamoScheduleStore on dynalite', freshStore);

describe('DynamoScheduleStore', () => {
  it('forgets a one-time schedule a month after its time (TTL, and expired items read as gone)', async () => {
    let now = new Date('2026-11-23T10:00:00Z');
    const store = await freshStore(() => now);
    await store.createSchedule(makeSchedule({ id: 'once', expression: 'at(2026-11-24T00:00:00)' }));
    await store.createSchedule(makeSchedule({ id: 'hourly' }));
    now = new Date('2026-12-20T00:00:00Z');
    expect((await store.listSchedules()).map((s) => s.id)).toEqual(['hourly', 'once']);
    now = new Date('2026-12-25T00:00:00Z');
    expect((await store.listSchedules()).map((s) => s.id)).toEqual(['hourly']);
    expect(await store.getSchedule('once')).toBeUndefined();
  });
});
