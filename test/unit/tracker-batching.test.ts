import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { applyChildRecords } from '../../lambdas/shared/chunk-events.js';
import { buildCatalogData, Catalog } from '../../src/core/catalog.js';
import { defineJobType } from '../../src/core/job-type.js';
import { SubmitRequestSchema } from '../../src/core/requests.js';
import { dispatchQueue } from '../../src/core/services/dispatch.js';
import { submitJob } from '../../src/core/services/submit.js';
import { testDeps } from './support/fakes.js';
import { MemoryObjectStore } from './support/memory-object-store.js';

const childFixture = {
  'detail-type': 'Batch Job State Change',
  source: 'aws.batch',
  detail: { jobName: '', jobId: '', status: 'RUNNING', arrayProperties: { index: 0 } },
};

function record(i: number, body: unknown): SQSRecord {
  return { messageId: `m-${i}`, body: JSON.stringify(body) } as SQSRecord;
}

describe('tracker batching of array-child events', () => {
  it('applies a whole batch of child events of one job in one write, and passes other records on', async () => {
    const objects = new MemoryObjectStore();
    const deps = testDeps({
      catalog: new Catalog(
        buildCatalogData({
          jobTypes: [
            defineJobType({ name: 'lines', image: 'i', command: ['cat'], chunking: { chunkSizeBytes: 1 } }),
          ],
        }),
      ),
      objects,
    });
    await objects.put('inputs/x', 'a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n');
    const { job } = await submitJob(
      deps,
      SubmitRequestSchema.parse({ type: 'lines', input: objects.uri('inputs/x') }),
      {
        kind: 'api',
      },
    );
    await dispatchQueue(deps, job.queue);
    const submitted = (await deps.store.getJob(job.id))!;
    const parent = submitted.executorJobId!;
    const jobName = deps.executor.submitted[0]!.jobName;
    const bodies = Array.from({ length: 20 }, (_, i) => ({
      ...childFixture,
      detail: {
        jobName,
        jobId: `${parent}:${i}`,
        status: i % 2 === 0 ? 'RUNNING' : 'SUCCEEDED',
        arrayProperties: { index: i },
      },
    }));
    // A plain job's event (no array index): left for the per-record consumer.
    const plain = { ...childFixture, detail: { jobName: 'event-test', jobId: 'y', status: 'RUNNING' } };
    const writes = vi.spyOn(deps.store, 'updateJob');
    const { rest, failures } = await applyChildRecords(deps, [
      ...bodies.map((b, i) => record(i, b)),
      record(99, plain),
      { messageId: 'bad', body: 'not json' } as SQSRecord,
    ]);
    expect(failures).toEqual([]);
    expect(rest.map((r) => r.messageId)).toEqual(['m-99', 'bad']);
    expect(writes).toHaveBeenCalledTimes(1);
    const after = (await deps.store.getJob(job.id))!;
    expect(after.state).toBe('RUNNING');
    expect(after.chunks).toMatchObject({ total: 20, running: 10, succeeded: 10, pending: 0 });
  });
});
