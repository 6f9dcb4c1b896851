import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoDeadLetterStore } from '../../src/aws/dynamo-dead-letter-store.js';
import { DynamoJobStore } from '../../src/aws/dynamo-job-store.js';
import { JobState } from '../../src/core/job-state.js';
import { ensureTable } from '../../src/local/resources.js';
import { deadLetterStoreContract, makeDeadLetter } from '../support/dead-letter-store-contract.js';
import { uniqueName, useEmulators } from '../support/emulators.js';
import { makeJob, TestClock } from '../support/jobs.js';

const harness = useEmulators();

async function fresh(clock = new TestClock('2025-06-15T12:00:00.000Z')) {
  const { clients } = harness();
  const tableName = uniqueName('deadletters');
  await ensureTable(clients.dynamodb, tableName);
  return {
    tableName,
    store: new DynamoDeadLetterStore({ client: clients.documentClient, tableName, clock }),
    jobs: new DynamoJobStore({ client: clients.documentClient, tableName, queueOrder: () => 'fifo', clock }),
  };
}

deadLetterStoreContract('DynamoDeadLetterStore on dynalite', async () => (await fresh()).store);

describe('DynamoDeadLetterStore in the job table', () => {
  it('shares the table with jobs without ever showing up in a job listing (own index partitions)', async () => {
    const { store, jobs } = await fresh();
    const job = makeJob({ state: JobState.Failed }, new Date('2025-06-15T11:00:00.000Z'));
    await jobs.createJob(job);
    await store.putDeadLetter(makeDeadLetter({ id: `job-${job.id}-1`, jobId: job.id, type: 'hello' }));
    await store.putDeadLetter(makeDeadLetter({ id: 'msg-x', kind: 'message' }));
    expect((await jobs.listJobs({ limit: 100 })).items.map((j) => j.id)).toEqual([job.id]);
    expect((await jobs.listJobs({ type: 'hello', limit: 100 })).items.map((j) => j.id)).toEqual([job.id]);
    expect((await jobs.listJobs({ state: JobState.Failed, limit: 100 })).items.map((j) => j.id)).toEqual([
      job.id,
    ]);
    expect(await jobs.jobsInStateSince(JobState.Failed, new Date('2030-01-01'), 100)).toHaveLength(1);
  });

  it('gives redriven records a TTL (open ones have none) and lets failure notes expire', async () => {
    const clock = new TestClock('2025-06-15T12:00:00.000Z');
    const { store, tableName } = await fresh(clock);
    const record = makeDeadLetter({ id: 'job-TTL-1' });
    await store.putDeadLetter(record);
    const raw = async () =>
      (
        await harness().clients.documentClient.send(
          new GetCommand({ TableName: tableName, Key: { pk: 'DEADLETTER#job-TTL-1', sk: 'DEADLETTER' } }),
        )
      ).Item;
    expect((await raw())?.expiresAt).toBeUndefined();
    await store.updateDeadLetter({ ...record, status: 'redriven' }, 0);
    expect((await raw())?.expiresAt).toBe(Date.parse('2025-06-15T12:00:00.000Z') / 1000 + 30 * 86_400);

    await store.noteMessageFailure({
      messageId: 'm',
      source: 'intake',
      error: { name: 'E', message: 'x' },
      at: 'now',
    });
    clock.advance(16 * 86_400_000);
    expect(await store.messageFailure('m')).toBeUndefined();
  });
});
