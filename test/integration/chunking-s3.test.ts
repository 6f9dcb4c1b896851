import { CreateBucketCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../src/aws/s3-object-store.js';
import { buildCatalogData, Catalog } from '../../src/core/catalog.js';
import { chunkPartKey, resultManifestKey } from '../../src/core/chunk-plan.js';
import { ChunkingSpecSchema } from '../../src/core/chunking-spec.js';
import { defineJobType } from '../../src/core/job-type.js';
import { SubmitRequestSchema } from '../../src/core/requests.js';
import { applyChildUpdates } from '../../src/core/services/chunk-track.js';
import { dispatchQueue } from '../../src/core/services/dispatch.js';
import { planInput } from '../../src/core/services/plan-execution.js';
import { submitJob } from '../../src/core/services/submit.js';
import { applyExecutorUpdate } from '../../src/core/services/track.js';
import { WorkerEnv } from '../../src/core/worker-env.js';
import type { ExecutorStatus } from '../../src/ports/executor.js';
import { runChunk } from '../../src/worker/run-chunk.js';
import { uniqueName, useEmulators } from '../support/emulators.js';
import { testDeps } from '../unit/support/fakes.js';

const harness = useEmulators();

describe('chunking on the S3 emulator (fauxqs)', () => {
  let objects: S3ObjectStore;
  let bucket: string;

  beforeAll(async () => {
    bucket = uniqueName('chunks');
    await harness().clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    // 5 MiB parts (S3's minimum) so that a multi-part upload happens with a few MiB of data.
    objects = new S3ObjectStore({ client: harness().clients.s3, bucket, partSize: 5 * 1024 * 1024 });
  });

  it('reads byte ranges and stops early; a missing object is undefined', async () => {
    await objects.put('inputs/r.txt', '0123456789');
    const read = async (start: number, end?: number) => {
      const body = await objects.read('inputs/r.txt', { start, ...(end !== undefined ? { end } : {}) });
      let text = '';
      for await (const piece of body!) text += Buffer.from(piece).toString();
      return text;
    };
    expect(await read(3, 6)).toBe('345');
    expect(await read(7)).toBe('789');
    expect(await read(10)).toBe(''); // past the end: no bytes, not an error
    expect(await objects.read('inputs/none.txt')).toBeUndefined();
  });

  it('uploads a stream in parts (constant memory) and leaves nothing behind when the stream fails', async () => {
    const piece = Buffer.alloc(1024 * 1024, 0x61);
    const bytes = await objects.upload(
      'outputs/big',
      (async function* () {
        for (let i = 0; i < 12; i++) yield piece;
      })(),
    );
    expect(bytes).toBe(12 * 1024 * 1024);
    expect((await objects.head('outputs/big'))?.size).toBe(12 * 1024 * 1024);
    await expect(
      objects.upload(
        'outputs/broken',
        (async function* () {
          for (let i = 0; i < 7; i++) yield piece;
          throw new Error('the command failed');
        })(),
      ),
    ).rejects.toThrow(/the command failed/);
    expect(await objects.head('outputs/broken')).toBeUndefined();
    const uploads = await harness().clients.s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    expect(uploads.Uploads ?? []).toEqual([]);
  });

  it('plans an object with one HeadObject, a CSV with one more ranged read, and a prefix with one listing', async () => {
    await objects.put('inputs/plan/a.csv', `id,amount\n${'1,2\n'.repeat(1000)}`);
    await objects.put('inputs/plan/b.csv', `id,amount\n${'3,4\n'.repeat(10)}`);
    const lines = ChunkingSpecSchema.parse({ chunkSizeBytes: 100 });
    const csv = ChunkingSpecSchema.parse({ format: 'csv', chunkSizeBytes: 100 });
    const one = await planInput(
      objects,
      { kind: 'object', uri: objects.uri('inputs/plan/a.csv') },
      lines,
      undefined,
    );
    expect(one).toMatchObject({ storageCalls: 1, layout: { chunkCount: 41, splitting: 'byte-range' } });
    const withHeader = await planInput(
      objects,
      { kind: 'object', uri: objects.uri('inputs/plan/a.csv') },
      csv,
      undefined,
    );
    expect(withHeader).toMatchObject({ storageCalls: 2, csvHeader: 'id,amount' });
    const prefix = await planInput(
      objects,
      { kind: 'prefix', uri: objects.uri('inputs/plan/') },
      lines,
      undefined,
    );
    expect(prefix).toMatchObject({ storageCalls: 1, layout: { objects: 2, bytes: 4010 + 50 } });
    await expect(
      planInput(objects, { kind: 'object', uri: objects.uri('inputs/plan/none') }, lines, undefined),
    ).rejects.toMatchObject({ code: 'InputNotFound' });
  });

  it('runs a chunked job over the wire: manifest, worker parts and result manifest in S3', async () => {
    const deps = testDeps({
      catalog: new Catalog(
        buildCatalogData({
          jobTypes: [
            defineJobType({
              name: 'upper',
              image: 'i',
              command: ['tr', 'a-z', 'A-Z'],
              chunking: { chunkSizeBytes: 64 },
            }),
          ],
        }),
      ),
      objects,
    });
    const text = Array.from({ length: 40 }, (_, i) => `line ${i} é€\r`).join('\n');
    await objects.put('inputs/upper.txt', text);
    const { job } = await submitJob(
      deps,
      SubmitRequestSchema.parse({ type: 'upper', input: objects.uri('inputs/upper.txt') }),
      { kind: 'api' },
    );
    await dispatchQueue(deps, job.queue);
    const [request] = deps.executor.submitted;
    const executorJobId = [...deps.executor.jobs.keys()][0]!;
    const size = request!.arraySize!;
    const events = [];
    for (let i = 0; i < size; i++) {
      const env = {
        ...process.env,
        ...request!.environment,
        [WorkerEnv.bucket]: bucket,
        [WorkerEnv.arrayIndex]: String(i),
      };
      const outcome = await runChunk({ objects, env, command: ['tr', 'a-z', 'A-Z'] });
      expect(outcome.exitCode).toBe(0);
      events.push({
        executorJobId: `${executorJobId}:${i}`,
        jobName: request!.jobName,
        arrayIndex: i,
        status: 'SUCCEEDED' as ExecutorStatus,
      });
    }
    await applyChildUpdates(deps, events);
    await applyExecutorUpdate(deps, {
      executorJobId,
      jobName: request!.jobName,
      status: 'SUCCEEDED' as ExecutorStatus,
    });
    const done = await deps.store.getJob(job.id);
    expect(done).toMatchObject({ state: 'SUCCEEDED', chunks: { total: size, succeeded: size } });
    const parts = [];
    for (let i = 0; i < size; i++) parts.push((await objects.getText(chunkPartKey(job.id, i))) ?? '');
    expect(parts.join('')).toBe(text.replace(/[a-z]/g, (c) => c.toUpperCase()));
    const manifest = JSON.parse((await objects.getText(resultManifestKey(job.id)))!);
    expect(manifest.parts).toHaveLength(size);
  });
});
