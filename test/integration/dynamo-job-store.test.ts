import { GetCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { ulid } from 'ulid';
import { describe, expect, it } from 'vitest';
import { DynamoJobStore } from '../../src/aws/dynamo-job-store.js';
import { invertUlid, queueSortKey } from '../../src/aws/job-item.js';
import { TableIndexes } from '../../src/aws/table-schema.js';
import { transitionJob } from '../../src/core/job.js';
import { JobState } from '../../src/core/job-state.js';
import { ensureTable } from '../../src/local/resources.js';
import { uniqueName, useEmulators } from '../support/emulators.js';
import { jobStoreContract } from '../support/job-store-contract.js';
import { makeJob, TestClock } from '../support/jobs.js';

const harness = useEmulators();

async function freshStore(
  options: {
    queueOrder?: (queue: string) => 'fifo' | 'lifo';
    clock?: TestClock;
    finishedJobTtlSeconds?: number;
  } = {},
) {
  const { clients } = harness();
  const tableName = uniqueName('jobs');
  await ensureTable(clients.dynamodb, tableName);
  const store = new DynamoJobStore({
    client: clients.documentClient,
    tableName,
    queueOrder: options.queueOrder ?? (() => 'fifo'),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.finishedJobTtlSeconds !== undefined
      ? { finishedJobTtlSeconds: options.finishedJobTtlSeconds }
      : {}),
  });
  return { store, tableName };
}

jobStoreContract('DynamoJobStore on dynalite', async ({ queueOrder, clock }) => {
  return (await freshStore({ queueOrder, clock })).store;
});

describe('DynamoJobStore item layout', () => {
  async function rawItem(tableName: string, id: string) {
    const { Item } = await harness().clients.documentClient.send(
      new GetCommand({ TableName: tableName, Key: { pk: `JOB#${id}`, sk: 'JOB' } }),
    );
    return Item;
  }

  it('writes the index attributes of the job state, and drops the queue index keys outside QUEUED', async () => {
    const { store, tableName } = await freshStore();
    const job = makeJob({ type: 'report', priority: 750 }, new Date('2025-02-03T04:05:06.007Z'));
    await store.createJob(job);

    expect(await rawItem(tableName, job.id)).toMatchObject({
      gsi1pk: 'QUEUE#normal',
      gsi1sk: `0250#${job.id}`,
      gsi2pk: 'STATE#QUEUED',
      gsi2sk: `2025-02-03T04:05:06.007Z#${job.id}`,
      gsi3pk: 'TYPE#report',
      gsi3sk: job.id,
      gsi4pk: 'CREATED#2025-02',
      gsi4sk: job.id,
    });

    const at = new Date('2025-02-03T04:06:00.000Z');
    await store.updateJob(transitionJob(job, JobState.Submitting, at), 0);

    const item = await rawItem(tableName, job.id);
    expect(item).not.toHaveProperty(TableIndexes.queue.partitionKey);
    expect(item).not.toHaveProperty(TableIndexes.queue.sortKey);
    expect(item).toMatchObject({
      gsi2pk: 'STATE#SUBMITTING',
      gsi2sk: `${at.toISOString()}#${job.id}`,
      version: 1,
    });
  });

  it('sets a TTL on finished jobs only, when configured', async () => {
    const { store, tableName } = await freshStore({ finishedJobTtlSeconds: 3600 });
    const running = makeJob({ state: JobState.Running });
    await store.createJob(running);
    const finishedAt = new Date('2025-03-01T00:00:00.000Z');

    expect(await rawItem(tableName, running.id)).not.toHaveProperty('expiresAt');

    await store.updateJob(transitionJob(running, JobState.Succeeded, finishedAt), 0);

    expect((await rawItem(tableName, running.id))?.expiresAt).toBe(finishedAt.getTime() / 1000 + 3600);
    expect(await store.getJob(running.id)).not.toHaveProperty('expiresAt');
  });

  it('stops listing all jobs after 24 empty months', async () => {
    const clock = new TestClock('2025-06-15T00:00:00Z');
    const { store } = await freshStore({ clock });
    const recent = makeJob({}, new Date('2025-01-01T00:00:00Z'));
    const beyondGap = makeJob({}, new Date('2022-12-01T00:00:00Z'));
    await store.createJob(recent);
    await store.createJob(beyondGap);

    const page = await store.listJobs({ limit: 10 });

    expect(page.items.map((j) => j.id)).toEqual([recent.id]);
    expect(page.cursor).toBeUndefined();
  });
});

describe('queue ordering keys', () => {
  it.each([
    ['00000000000000000000000000', 'ZZZZZZZZZZZZZZZZZZZZZZZZZZ'],
    ['7ZZZZZZZZZZZZZZZZZZZZZZZZZ', 'R0000000000000000000000000'],
    ['01j2abcdefghjkmnpqrstvwxyz', 'ZYDXNMKJHGFEDCBA9876543210'],
  ])('inverts %s', (id, inverted) => {
    expect(invertUlid(id)).toBe(inverted);
  });

  it('inverts Crockford characters pairwise and refuses others', () => {
    expect(invertUlid('0123456789ABCDEFGHJKMNPQRSTVWXYZ')).toBe('ZYXWVTSRQPNMKJHGFEDCBA9876543210');
    expect(invertUlid(invertUlid('01J2ABCDEFGHJKMNPQRSTVWXYZ'))).toBe('01J2ABCDEFGHJKMNPQRSTVWXYZ');
    expect(() => invertUlid('01J2ABCDEFGHJKMNPQRSTVWXYU')).toThrow(RangeError);
  });

  it.each([
    [1000, 'fifo', '0000#'],
    [500, 'fifo', '0500#'],
    [0, 'lifo', '1000#'],
  ] as const)('puts priority %i first (%s)', (priority, order, prefix) => {
    expect(queueSortKey(priority, '01J2ABCDEFGHJKMNPQRSTVWXYZ', order).startsWith(prefix)).toBe(true);
  });

  it('sorts ascending by priority descending, then by id ascending (FIFO) or descending (LIFO)', () => {
    const entry = fc.record({
      priority: fc.integer({ min: 0, max: 1000 }),
      time: fc.integer({ min: 0, max: 2 ** 40 }),
    });
    fc.assert(
      fc.property(
        fc.array(entry, { minLength: 2, maxLength: 30 }),
        fc.constantFrom('fifo', 'lifo'),
        (entries, order) => {
          const jobs = entries.map((e) => ({ ...e, id: ulid(e.time) }));
          const byKey = [...jobs].sort((a, b) =>
            compare(queueSortKey(a.priority, a.id, order), queueSortKey(b.priority, b.id, order)),
          );
          const expected = [...jobs].sort(
            (a, b) =>
              b.priority - a.priority || (order === 'fifo' ? compare(a.id, b.id) : compare(b.id, a.id)),
          );
          expect(byKey.map((j) => j.id)).toEqual(expected.map((j) => j.id));
        },
      ),
    );
  });
});

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
