import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { buildCatalogData, Catalog } from '../../src/core/catalog.js';
import { ChunkCheckpointSchema } from '../../src/core/chunk-checkpoint.js';
import { chunkCheckpointKey, chunkPartKey, resultManifestKey } from '../../src/core/chunk-plan.js';
import type { Job } from '../../src/core/job.js';
import { defineJobType } from '../../src/core/job-type.js';
import { SubmitRequestSchema } from '../../src/core/requests.js';
import { applyChildUpdates } from '../../src/core/services/chunk-track.js';
import { dispatchQueue, releaseRetry } from '../../src/core/services/dispatch.js';
import { retryJob } from '../../src/core/services/retry.js';
import { submitJob } from '../../src/core/services/submit.js';
import { applyExecutorUpdate } from '../../src/core/services/track.js';
import { WorkerEnv } from '../../src/core/worker-env.js';
import type { ExecutionRequest, ExecutorJob, ExecutorStatus } from '../../src/ports/executor.js';
import { runChunk } from '../../src/worker/run-chunk.js';
import { runPack } from '../../src/worker/run-pack.js';
import { type TestDeps, testDeps } from './support/fakes.js';
import { MemoryObjectStore } from './support/memory-object-store.js';

const jobTypes = [
  defineJobType({
    name: 'lines',
    image: 'img',
    command: ['cat'],
    chunking: { chunkSizeBytes: 10 },
    retry: { attempts: 1 },
  }),
  defineJobType({
    name: 'tolerant',
    image: 'img',
    command: ['sh', '-c', 'if grep -q bad; then exit 3; fi'],
    chunking: { chunkSizeBytes: 8 },
    failurePolicy: { toleratedFailurePercent: 0, toleratedFailureCount: 1 },
    retry: { attempts: 2, baseDelaySeconds: 0, maxDelaySeconds: 0 },
  }),
  defineJobType({
    name: 'csv',
    image: 'img',
    command: ['cat'],
    chunking: { format: 'csv', chunkSizeBytes: 12 },
    retry: { attempts: 1 },
  }),
  defineJobType({
    name: 'settle',
    image: 'img',
    command: ['cat'],
    chunking: { format: 'csv', chunkSizeBytes: 16 },
    reduce: { jobType: 'settle-totals' },
  }),
  defineJobType({ name: 'settle-totals', image: 'img', command: ['cat'] }),
  defineJobType({
    name: 'tiny',
    image: 'img',
    command: ['sh', '-c', 'echo "job $OFFPEAK_JOB_ID"'],
    packing: { windowSeconds: 2, jobsPerChild: 2, maxJobs: 100 },
    retry: { attempts: 1 },
  }),
];

let deps: TestDeps;
let objects: MemoryObjectStore;
beforeEach(() => {
  objects = new MemoryObjectStore();
  objects.readPieceBytes = 3;
  deps = testDeps({
    catalog: new Catalog(buildCatalogData({ jobTypes })),
    objects,
  });
});

async function submit(body: Record<string, unknown>): Promise<Job> {
  return (await submitJob(deps, SubmitRequestSchema.parse(body), { kind: 'api' })).job;
}

async function reload(id: string): Promise<Job> {
  const job = await deps.store.getJob(id);
  if (!job) throw new Error(`missing ${id}`);
  return job;
}

/** Runs every child of the submitted executor requests through the worker, then reports events like Batch. */
async function runAll(
  requests: readonly ExecutionRequest[],
  command: readonly string[],
  options: { events?: 'normal' | 'duplicated-shuffled' } = {},
) {
  const childEvents: ExecutorJob[] = [];
  const parents: ExecutorJob[] = [];
  // The requests are the executor's latest submissions, in order.
  const ids = [...deps.executor.jobs.keys()].slice(-requests.length);
  for (const [n, request] of requests.entries()) {
    const executorJobId = ids[n]!;
    const size = request.arraySize ?? 1;
    let failed = 0;
    for (let i = 0; i < size; i++) {
      const env = {
        ...process.env,
        ...request.environment,
        [WorkerEnv.bucket]: objects.bucket,
        ...(request.arraySize ? { [WorkerEnv.arrayIndex]: String(i) } : {}),
      };
      const outcome = await runChunk({ objects, env, command });
      if (outcome.exitCode !== 0) failed++;
      if (request.arraySize) {
        const base = { executorJobId: `${executorJobId}:${i}`, jobName: request.jobName, arrayIndex: i };
        childEvents.push({ ...base, status: 'RUNNING' as ExecutorStatus });
        childEvents.push({
          ...base,
          status: (outcome.exitCode === 0 ? 'SUCCEEDED' : 'FAILED') as ExecutorStatus,
          exitCode: outcome.exitCode,
          statusReason: 'Essential container in task exited',
        });
      }
    }
    parents.push({
      executorJobId,
      jobName: request.jobName,
      status: (failed === 0 ? 'SUCCEEDED' : 'FAILED') as ExecutorStatus,
    });
  }
  let events = childEvents;
  if (options.events === 'duplicated-shuffled') {
    events = [...childEvents, ...childEvents].sort(() => Math.random() - 0.5);
  }
  for (let i = 0; i < events.length; i += 7) await applyChildUpdates(deps, events.slice(i, i + 7));
  for (const parent of parents) await applyExecutorUpdate(deps, parent);
}

describe('chunked jobs, end to end on the worker and the tracker', () => {
  it('plans byte-range chunks, runs them as one array job, and lists the parts in the result manifest', async () => {
    const text = 'alpha\nbeta\ngamma\ndelta\nepsilon\nzeta\n'; // 36 bytes → 4 chunks of 10
    await objects.put('inputs/a.txt', text);
    const job = await submit({ type: 'lines', input: objects.uri('inputs/a.txt') });
    await dispatchQueue(deps, job.queue);
    const [request] = deps.executor.submitted;
    expect(request?.arraySize).toBe(4);
    expect(objects.calls.head).toBe(2); // submit's reachability check + the planner's one HeadObject
    await runAll(deps.executor.submitted, ['cat']);

    const done = await reload(job.id);
    expect(done.state).toBe('SUCCEEDED');
    expect(done.chunks).toMatchObject({ total: 4, succeeded: 4, failed: 0, running: 0, states: 'SSSS' });
    const parts = [0, 1, 2, 3].map((i) => objects.text(chunkPartKey(job.id, i)) ?? '');
    expect(parts.join('')).toBe(text);
    const manifest = JSON.parse(objects.text(resultManifestKey(job.id))!);
    expect(manifest.parts.map((p: { chunk: number }) => p.chunk)).toEqual([0, 1, 2, 3]);
    expect(manifest.failedChunks).toEqual([]);
    expect(done.resultManifestUri).toBe(objects.uri(resultManifestKey(job.id)));
  });

  it('a plan of one chunk is a plain job', async () => {
    await objects.put('inputs/small.txt', 'one\n');
    const job = await submit({ type: 'lines', input: objects.uri('inputs/small.txt') });
    await dispatchQueue(deps, job.queue);
    expect(deps.executor.submitted[0]?.arraySize).toBeUndefined();
    await runAll(deps.executor.submitted, ['cat']);
    expect((await reload(job.id)).state).toBe('SUCCEEDED');
    expect(objects.text(chunkPartKey(job.id, 0))).toBe('one\n');
  });

  it('sends the CSV header to every chunk and checks it at planning', async () => {
    await objects.put('inputs/t.csv', 'id,amount\n1,10\n2,20\n3,30\n4,40\n');
    const job = await submit({ type: 'csv', input: objects.uri('inputs/t.csv') });
    await dispatchQueue(deps, job.queue);
    await runAll(deps.executor.submitted, ['cat']);
    const parts = [...objects.objects.keys()].filter((k) => k.startsWith(`outputs/${job.id}/part-`)).sort();
    expect(parts.length).toBeGreaterThan(1);
    const rows = parts.flatMap((k) => objects.text(k)!.split('\n').filter(Boolean));
    expect(rows.filter((r) => r === 'id,amount')).toHaveLength(parts.length);
    expect(rows.filter((r) => r !== 'id,amount').sort()).toEqual(['1,10', '2,20', '3,30', '4,40']);

    await objects.put('inputs/bad.csv', 'id,"amount\n1,2\n');
    const bad = await submit({ type: 'csv', input: objects.uri('inputs/bad.csv') });
    await dispatchQueue(deps, bad.queue);
    expect(await reload(bad.id)).toMatchObject({ state: 'FAILED', error: { code: 'InvalidCsvHeader' } });
  });

  it('counters stay exact under duplicated and shuffled events', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 1000 }), async () => {
        deps = testDeps({
          catalog: new Catalog(buildCatalogData({ jobTypes })),
          objects: new MemoryObjectStore(),
        });
        objects = deps.objects as MemoryObjectStore;
        await objects.put('inputs/a.txt', 'a\nbb\nccc\ndddd\neeeee\nffffff\n');
        const job = await submit({ type: 'lines', input: objects.uri('inputs/a.txt') });
        await dispatchQueue(deps, job.queue);
        await runAll(deps.executor.submitted, ['cat'], { events: 'duplicated-shuffled' });
        const done = await reload(job.id);
        expect(done.state).toBe('SUCCEEDED');
        expect(done.chunks).toMatchObject({ total: 3, succeeded: 3, failed: 0, running: 0, pending: 0 });
        // The attempt's usage is what the three workers recorded, each chunk counted once despite the duplicates.
        const recorded = [0, 1, 2].map((i) =>
          ChunkCheckpointSchema.parse(JSON.parse(objects.text(chunkCheckpointKey(job.id, i))!)),
        );
        const usage = done.attempts.find((a) => a.attempt === done.attempt)?.usage;
        const cpu = recorded.reduce((sum, c) => sum + c.cpuSeconds, 0);
        // Each write rounds to hundredths, so three chunks may differ from the exact sum by a few of them; a chunk
        // counted twice would add a whole chunk's CPU.
        expect(Math.abs((usage?.cpuSeconds ?? 0) - cpu)).toBeLessThanOrEqual(0.03);
        expect(cpu).toBeGreaterThan(0);
        const peak = Math.max(...recorded.map((c) => c.peakRssBytes)) / 1_048_576;
        expect(usage?.peakMemoryMiB).toBe(Math.round(peak * 10) / 10);
      }),
      { numRuns: 8 },
    );
  });

  it('within tolerance the job succeeds with its failures listed; beyond it only failed chunks are retried', async () => {
    // 8-byte chunks: "ok....\n" lines; one bad chunk is tolerated (count 1).
    await objects.put('inputs/t.txt', 'ok-0001\nbad-002\nok-0003\nok-0004\n');
    const job = await submit({ type: 'tolerant', input: objects.uri('inputs/t.txt') });
    await dispatchQueue(deps, job.queue);
    await runAll(deps.executor.submitted, ['awk', '/bad/ { exit 3 } { print }']);
    const done = await reload(job.id);
    expect(done.state).toBe('SUCCEEDED');
    expect(done.chunks).toMatchObject({ total: 4, succeeded: 3, failed: 1 });
    expect(done.failedChunks).toEqual([
      { index: 1, error: expect.objectContaining({ code: 'CommandFailed' }) },
    ]);
    expect(done.statusReason).toMatch(/1 of 4 chunks failed, within the failure policy/);
    const manifest = JSON.parse(objects.text(resultManifestKey(job.id))!);
    expect(manifest.failedChunks[0].error.message).toMatch(/exited with code 3/);
    expect(objects.objects.has(chunkPartKey(job.id, 1))).toBe(false); // no partial output listed as success

    // Two failures: beyond tolerance → RETRY_WAIT → a new run over only the failed chunks.
    await objects.put('inputs/u.txt', 'ok-0001\nbad-002\nbad-003\nok-0004\n');
    const second = await submit({ type: 'tolerant', input: objects.uri('inputs/u.txt') });
    deps.executor.submitted.length = 0;
    await dispatchQueue(deps, second.queue);
    const marker = join(mkdtempSync(join(tmpdir(), 'offpeak-')), 'fixed');
    // Prints records as it goes and fails mid-stream at a bad one (until the marker says the bug is fixed).
    const command = [
      'awk',
      '-v',
      `m=${marker}`,
      'BEGIN { fixed = (system("test -f " m) == 0) } /bad/ && !fixed { exit 3 } { print }',
    ];
    await runAll(deps.executor.submitted, command);
    const waiting = await reload(second.id);
    expect(waiting).toMatchObject({ state: 'RETRY_WAIT', chunks: { failed: 2, succeeded: 2 } });
    writeFileSync(marker, '');
    await releaseRetry(deps, second.id);
    // A late duplicate of the first run's end changes nothing while the retry waits in the queue.
    const oldArray = waiting.run!.arrays[0]!.executorJobId;
    const jobName = deps.executor.submitted[0]!.jobName;
    await applyExecutorUpdate(deps, { executorJobId: oldArray, jobName, status: 'FAILED' as ExecutorStatus });
    expect((await reload(second.id)).state).toBe('QUEUED');
    deps.executor.submitted.length = 0;
    await dispatchQueue(deps, second.queue);
    const [retry] = deps.executor.submitted;
    expect(retry?.arraySize).toBe(2); // only the two failed chunks
    await runAll(deps.executor.submitted, command);
    const final = await reload(second.id);
    expect(final).toMatchObject({ state: 'SUCCEEDED', chunks: { succeeded: 4, failed: 0, states: 'SSSS' } });
    expect([0, 1, 2, 3].map((i) => objects.text(chunkPartKey(second.id, i))).join('')).toBe(
      'ok-0001\nbad-002\nbad-003\nok-0004\n',
    );
  });

  it('POST /jobs/{id}/retry re-runs a FAILED chunked job over its failed chunks only; a running job is a conflict', async () => {
    await objects.put('inputs/r.txt', 'aaaaaaaa\nbbbbbbbb\n');
    const job = await submit({ type: 'lines', input: objects.uri('inputs/r.txt') });
    await dispatchQueue(deps, job.queue);
    await expect(retryJob(deps, job.id)).rejects.toMatchObject({ code: 'JobNotRetryable' });
    await runAll(deps.executor.submitted, ['sh', '-c', 'if grep -q b; then exit 4; fi; cat']);
    expect((await reload(job.id)).state).toBe('FAILED');
    const retried = await retryJob(deps, job.id);
    expect(retried).toMatchObject({ state: 'QUEUED', chunks: { failed: 1, succeeded: 1 } });
    deps.executor.submitted.length = 0;
    await dispatchQueue(deps, job.queue);
    expect(deps.executor.submitted[0]?.arraySize).toBeUndefined(); // one failed chunk: a plain job
    await runAll(deps.executor.submitted, ['cat']);
    const done = await reload(job.id);
    expect(done).toMatchObject({ state: 'SUCCEEDED', attempt: 2 });
    expect(done.history.map((h) => h.state)).toContain('FAILED');
  });

  it('bad input ends in a defined state with a clear error', async () => {
    const missing = submit({ type: 'lines', input: objects.uri('inputs/none.txt') });
    await expect(missing).rejects.toMatchObject({ code: 'InputNotFound' });
    await expect(submit({ type: 'lines', input: 's3://other-bucket/x' })).rejects.toMatchObject({
      code: 'InputOutsideBucket',
    });
    await expect(
      submit({ type: 'lines', input: objects.uri('x'), chunking: { chunkSizeBytes: 0 } }),
    ).rejects.toThrow();
    await expect(
      submit({ type: 'settle-totals', input: objects.uri('x'), chunking: { chunkSizeBytes: 1024 } }),
    ).rejects.toMatchObject({ code: 'InputNotAllowed' });

    await objects.put('inputs/empty.txt', '');
    const empty = await submit({ type: 'lines', input: objects.uri('inputs/empty.txt') });
    await dispatchQueue(deps, empty.queue);
    await runAll(deps.executor.submitted, ['cat']);
    expect(await reload(empty.id)).toMatchObject({ state: 'SUCCEEDED', chunks: { total: 1, succeeded: 1 } });

    await objects.put('inputs/bin.txt', Buffer.from([0x61, 0x0a, 0x00, 0x01, 0x0a]));
    const binary = await submit({ type: 'lines', input: objects.uri('inputs/bin.txt') });
    deps.executor.submitted.length = 0;
    await dispatchQueue(deps, binary.queue);
    await runAll(deps.executor.submitted, ['cat']);
    const failed = await reload(binary.id);
    expect(failed).toMatchObject({ state: 'FAILED', failedChunks: [{ error: { code: 'BinaryInput' } }] });
  });

  it('a plain job type takes any S3 input as-is and gets it as OFFPEAK_INPUT_URI', async () => {
    const plain = await submit({ type: 'settle-totals', input: 's3://other-bucket/x' });
    expect(plain.input).toEqual({ kind: 'object', uri: 's3://other-bucket/x' });
    deps.executor.submitted.length = 0;
    await dispatchQueue(deps, plain.queue);
    expect(deps.executor.submitted[0]?.environment.OFFPEAK_INPUT_URI).toBe('s3://other-bucket/x');
  });
});

describe('worker', () => {
  async function manifestFor(type: string, text: string) {
    await objects.put('inputs/w.txt', text);
    const job = await submit({ type, input: objects.uri('inputs/w.txt') });
    await dispatchQueue(deps, job.queue);
    const request = deps.executor.submitted.at(-1)!;
    return { job, env: { ...process.env, ...request.environment, [WorkerEnv.bucket]: objects.bucket } };
  }

  it('fails a command that exits non-zero mid-stream, or never reads its input, without listing output', async () => {
    const big = `${'x'.repeat(99)}\n`.repeat(3000); // 300 KB: more than a pipe buffer
    const { job, env } = await manifestFor('settle-totals-free', big).catch(() => ({
      job: undefined,
      env: undefined,
    }));
    expect(job).toBeUndefined(); // unknown type: a validation error, not a job
    deps = testDeps({
      catalog: new Catalog(
        buildCatalogData({
          jobTypes: [
            defineJobType({
              name: 'one',
              image: 'i',
              command: ['cat'],
              chunking: { chunkSizeBytes: 1_000_000 },
            }),
          ],
        }),
      ),
      objects,
    });
    const one = await manifestFor('one', big);
    const exitsEarly = await runChunk({
      objects,
      env: one.env,
      command: ['sh', '-c', 'head -c 10 >/dev/null; exit 5'],
    });
    expect(exitsEarly).toMatchObject({
      exitCode: 5,
      checkpoint: { state: 'failed', error: { code: 'CommandFailed' } },
    });
    const neverReads = await runChunk({ objects, env: one.env, command: ['sh', '-c', 'exit 0'] });
    expect(neverReads.checkpoint.error?.code).toBe('InputNotConsumed');
    expect(objects.objects.has(chunkPartKey(one.job.id, 0))).toBe(false);
    void env;
  });

  it('resumes a chunk killed mid-way from its last commit, and the part holds every record once', async () => {
    deps = testDeps({
      catalog: new Catalog(
        buildCatalogData({
          jobTypes: [
            defineJobType({
              name: 'windowed',
              image: 'i',
              command: ['cat'],
              chunking: { chunkSizeBytes: 1_000_000, commitEveryBytes: 20 },
            }),
          ],
        }),
      ),
      objects,
    });
    const text = Array.from({ length: 12 }, (_, i) => `record-${String(i).padStart(2, '0')}\n`).join('');
    const { job, env } = await manifestFor('windowed', text);
    const counter = join(mkdtempSync(join(tmpdir(), 'offpeak-')), 'n');
    // The third window's command is killed (as a killed worker would leave it): two windows stay committed.
    const command = [
      'sh',
      '-c',
      `n=$(cat ${counter} 2>/dev/null || echo 0); echo $((n+1)) > ${counter}; if [ "$n" = 2 ]; then kill -9 $$; fi; cat`,
    ];
    const first = await runChunk({ objects, env, command });
    expect(first.checkpoint).toMatchObject({
      state: 'failed',
      windows: [expect.any(String), expect.any(String)],
    });
    expect(first.checkpoint.error?.code).toBe('CommandKilled');
    const resumed = await runChunk({ objects, env: { ...env, OFFPEAK_ATTEMPT: '2' }, command });
    expect(resumed.exitCode).toBe(0);
    expect(objects.text(chunkPartKey(job.id, 0))).toBe(text);
    expect(resumed.checkpoint.records).toBe(12);
  });

  it('environment mode gives the coordinates and resumes from the command checkpoint', async () => {
    deps = testDeps({
      catalog: new Catalog(
        buildCatalogData({
          jobTypes: [
            defineJobType({
              name: 'env',
              image: 'i',
              command: ['x'],
              chunking: { chunkSizeBytes: 1_000_000, mode: 'environment' },
            }),
          ],
        }),
      ),
      objects,
    });
    const { env } = await manifestFor('env', 'a\nb\nc\n');
    const script = `
      const fs = require('node:fs');
      const out = [process.env.OFFPEAK_INPUT_URI, process.env.OFFPEAK_RANGE_START, process.env.OFFPEAK_RANGE_END, process.env.OFFPEAK_RESUME_OFFSET ?? '-'].join(' ');
      fs.writeFileSync(process.env.OUT_FILE, out);
      if (!process.env.OFFPEAK_RESUME_OFFSET) { fs.writeSync(3, JSON.stringify({ type: 'checkpoint', offset: 2, records: 1 }) + '\\n'); process.exit(7); }
    `;
    const outFile = join(mkdtempSync(join(tmpdir(), 'offpeak-')), 'out');
    const first = await runChunk({
      objects,
      env: { ...env, OUT_FILE: outFile },
      command: [process.execPath, '-e', script],
    });
    expect(first).toMatchObject({ exitCode: 7, checkpoint: { offset: 2, records: 1 } });
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(outFile, 'utf8')).toBe(`${objects.uri('inputs/w.txt')} 0 6 -`);
    const second = await runChunk({
      objects,
      env: { ...env, OUT_FILE: outFile },
      command: [process.execPath, '-e', script],
    });
    expect(second.exitCode).toBe(0);
    expect(readFileSync(outFile, 'utf8')).toBe(`${objects.uri('inputs/w.txt')} 2 6 2`);
  });
});

describe('reduce step', () => {
  it('submits the reduce job waiting for the chunked job, with the result manifest as its input', async () => {
    await objects.put('inputs/s.csv', 'bank,amount\nA,1\nB,2\n');
    const job = await submit({ type: 'settle', input: objects.uri('inputs/s.csv') });
    expect(job.reduceJobId).toBeDefined();
    const reduce = await reload(job.reduceJobId!);
    expect(reduce).toMatchObject({
      type: 'settle-totals',
      state: 'WAITING',
      dependsOn: [job.id],
      input: { kind: 'manifest', uri: objects.uri(resultManifestKey(job.id)) },
    });
    await dispatchQueue(deps, job.queue);
    await runAll(
      deps.executor.submitted.filter((r) => r.jobId === job.id),
      ['cat'],
    );
    expect((await reload(job.id)).state).toBe('SUCCEEDED');
    expect((await reload(reduce.id)).state).toBe('QUEUED');
    deps.executor.submitted.length = 0;
    await dispatchQueue(deps, reduce.queue);
    expect(deps.executor.submitted[0]?.environment[WorkerEnv.inputUri]).toBe(
      objects.uri(resultManifestKey(job.id)),
    );
  });
});

describe('small-job packing', () => {
  it('holds jobs for the window, then packs them into one array job; each keeps its own state and log', async () => {
    const jobs = [];
    for (let i = 0; i < 5; i++) jobs.push(await submit({ type: 'tiny', params: i === 3 ? {} : {} }));
    await dispatchQueue(deps, 'normal');
    expect(deps.executor.submitted).toHaveLength(0); // within the window
    expect(deps.dispatchQueue.messages.at(-1)?.options?.delaySeconds).toBe(2);
    deps.clock.advance(2_000);
    await dispatchQueue(deps, 'normal');
    expect(deps.executor.submitted).toHaveLength(1);
    const [request] = deps.executor.submitted;
    expect(request?.arraySize).toBe(3); // 5 jobs, 2 per child
    for (const job of jobs) expect((await reload(job.id)).state).toBe('SUBMITTED');

    const executorJobId = (await reload(jobs[0]!.id)).executorJobId!;
    const events: ExecutorJob[] = [];
    for (let child = 0; child < 3; child++) {
      const env = {
        ...process.env,
        ...request!.environment,
        [WorkerEnv.bucket]: objects.bucket,
        [WorkerEnv.arrayIndex]: String(child),
      };
      const results = await runPack({
        objects,
        env,
        command: jobTypes[5]!.command,
        echo: { write: () => true } as never,
      });
      expect(results.length).toBeGreaterThan(0);
      events.push({
        executorJobId: `${executorJobId}:${child}`,
        jobName: request!.jobName,
        arrayIndex: child,
        status: 'SUCCEEDED' as ExecutorStatus,
      });
    }
    await applyChildUpdates(deps, events);
    for (const job of jobs) {
      const done = await reload(job.id);
      expect(done.state).toBe('SUCCEEDED');
      expect(objects.text(`outputs/${job.id}/log.txt`)).toBe(`job ${job.id}\n`);
    }
  });
});
