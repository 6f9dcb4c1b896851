/**
 * Chunking benchmarks (issue 5). Every number is a ratio against a baseline measured in the same run:
 *
 * 1. planning cost of a 10 GiB object vs a 10 MiB object on the S3 emulator (same storage calls, time ratio ≤ 1.5);
 * 2. worker streaming throughput through `cat` vs a minimal SDK stream copy of the same range (≥ 0.8), and the
 *    worker's peak RSS for two chunk sizes (bounded, independent of the chunk size);
 * 3. local parallel speed-up: a 4-chunk job vs the 1-chunk run of the same data on 2 slots (≤ 0.6 of the time);
 * 4. packing: SubmitJob calls and container starts for 10,000 small jobs (≤ 10 submits, ≤ 100 starts).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CreateBucketCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { buildApp } from 'fauxqs';
import { buildWorker } from '../scripts/build-worker.js';
import { createAwsClients } from '../src/aws/clients.js';
import { S3ObjectStore } from '../src/aws/s3-object-store.js';
import { buildCatalogData, Catalog } from '../src/core/catalog.js';
import { ChunkCheckpointSchema } from '../src/core/chunk-checkpoint.js';
import { chunkCheckpointKey } from '../src/core/chunk-plan.js';
import { ChunkingSpecSchema } from '../src/core/chunking-spec.js';
import { defaultSettings } from '../src/core/deps.js';
import { defineJobType } from '../src/core/job-type.js';
import { defaultQueues } from '../src/core/queue-spec.js';
import { SubmitRequestSchema } from '../src/core/requests.js';
import { dispatchAll } from '../src/core/services/dispatch.js';
import { planExecution, planInput } from '../src/core/services/plan-execution.js';
import { submitJob } from '../src/core/services/submit.js';
import { WorkerEnv } from '../src/core/worker-env.js';
import { defaultLocalWorkerCommand } from '../src/local/local-executor.js';
import { startLocalService } from '../src/local/service.js';
import { runChunk } from '../src/worker/run-chunk.js';
import { type ManualClock, type RecordingExecutor, testDeps } from '../test/unit/support/fakes.js';
import { MemoryObjectStore } from '../test/unit/support/memory-object-store.js';
import type { Benchmark } from './run.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const RECORD = 100; // bytes per generated record

interface Row {
  readonly benchmark: string;
  readonly measured: string;
  readonly baseline: string;
  readonly ratio: string;
  readonly target: string;
  readonly pass: boolean;
}

/** Runs the chunking benchmarks and prints one table. @returns the rows (for tooling). */
export const chunkingBenchmark: Benchmark = {
  name: 'chunking',
  description: 'planning cost, worker streaming throughput, local parallel speed-up, small-job packing',
  async run() {
    await run();
    return undefined;
  },
};

export async function run(): Promise<Row[]> {
  const rows: Row[] = [];
  const emulator = await startS3();
  try {
    rows.push(await planningCost(emulator));
    rows.push(...(await workerThroughput(emulator)));
  } finally {
    await emulator.stop();
  }
  rows.push(await parallelSpeedUp());
  rows.push(await packing());
  console.log('\nChunking benchmarks (ratios measured in the same run)\n');
  console.table(rows);
  return rows;
}

// ── the S3 emulator, with a generated 10 GiB object ────────────────────────────────────────────────────────────

interface S3Emulator {
  readonly endpoint: string;
  readonly client: S3Client;
  readonly bucket: string;
  /** S3 requests sent by `client` so far. */
  calls(): number;
  /** Adds an object whose bytes are generated on read (fixed 100-byte records), so it needs no memory. */
  generated(key: string, size: number): void;
  stop(): Promise<void>;
}

/** The `n`-th generated record: 99 bytes of text and a newline. */
function record(n: number): string {
  return `${`record-${String(n).padStart(12, '0')},merchant-${n % 97},${(n * 7919) % 100_000}`.padEnd(RECORD - 1, '.')}\n`;
}

function generatedBytes(start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(end - start);
  let at = 0;
  for (let n = Math.floor(start / RECORD); at < out.length; n++) {
    const line = Buffer.from(record(n));
    const from = n === Math.floor(start / RECORD) ? start % RECORD : 0;
    at += line.copy(out, at, from);
  }
  return out;
}

async function startS3(): Promise<S3Emulator> {
  // fauxqs keeps objects in Buffers; a 10 GiB object is generated on read instead, through its own store type.
  const appUrl = import.meta.resolve('fauxqs');
  const { S3Store } = (await import(new URL('./s3/s3Store.js', appUrl).href)) as {
    S3Store: new () => { buckets: Map<string, Map<string, unknown>> };
  };
  const { SqsStore } = (await import(new URL('./sqs/sqsStore.js', appUrl).href)) as {
    SqsStore: new () => object;
  };
  const { SnsStore } = (await import(new URL('./sns/snsStore.js', appUrl).href)) as {
    SnsStore: new () => object;
  };
  const s3Store = new S3Store();
  // fauxqs does not export its store types: `never` passes its own instances back to it unchanged.
  const stores = { s3Store, sqsStore: new SqsStore(), snsStore: new SnsStore() } as never;
  const app = buildApp({ logger: false, stores });
  const endpoint = await app.listen({ port: 0, host: '127.0.0.1' });
  const clients = createAwsClients({
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    endpoints: { s3: endpoint },
  });
  let calls = 0;
  clients.s3.middlewareStack.add(
    (next) => async (args) => {
      calls++;
      return next(args);
    },
    { step: 'finalizeRequest', name: 'countCalls' },
  );
  const bucket = 'bench';
  await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    endpoint,
    client: clients.s3,
    bucket,
    calls: () => calls,
    generated(key, size) {
      s3Store.buckets.get(bucket)!.set(key, {
        key,
        body: {
          length: size,
          subarray: (start: number, end: number) => generatedBytes(start, Math.min(end, size)),
        },
        contentType: 'text/plain',
        contentLength: size,
        etag: `"generated-${size}"`,
        lastModified: new Date(),
        metadata: {},
      });
    },
    async stop() {
      clients.destroy();
      await app.close();
    },
  };
}

// ── 1. planning cost ───────────────────────────────────────────────────────────────────────────────────────────

async function planningCost(s3: S3Emulator): Promise<Row> {
  const objects = new S3ObjectStore({ client: s3.client, bucket: s3.bucket });
  s3.generated('inputs/huge.txt', 10 * GiB);
  await objects.put('inputs/small.txt', generatedBytes(0, 10 * MiB));
  const spec = ChunkingSpecSchema.parse({ chunkSizeBytes: 1 * MiB, maxChunks: 100_000 });
  const measure = async (key: string) => {
    const input = { kind: 'object' as const, uri: objects.uri(key) };
    for (let i = 0; i < 20; i++) await planInput(objects, input, spec, undefined); // warm-up
    const before = s3.calls();
    const times: number[] = [];
    let chunks = 0;
    for (let i = 0; i < 200; i++) {
      const t = performance.now();
      chunks = (await planInput(objects, input, spec, undefined)).layout.chunkCount;
      times.push(performance.now() - t);
    }
    return { ms: median(times), calls: (s3.calls() - before) / 200, chunks };
  };
  const small = await measure('inputs/small.txt');
  const huge = await measure('inputs/huge.txt');
  const ratio = huge.ms / small.ms;
  return {
    benchmark: 'planning 10 GiB vs 10 MiB (1 MiB chunks)',
    measured: `${huge.ms.toFixed(2)} ms, ${huge.calls} call(s), ${huge.chunks} chunks`,
    baseline: `${small.ms.toFixed(2)} ms, ${small.calls} call(s), ${small.chunks} chunks`,
    ratio: `time ${ratio.toFixed(2)}, calls ${huge.calls}/${small.calls}`,
    target: 'same calls, time ≤ 1.5',
    pass: huge.calls === small.calls && ratio <= 1.5,
  };
}

// ── 2. worker throughput and memory ────────────────────────────────────────────────────────────────────────────

async function workerThroughput(s3: S3Emulator): Promise<Row[]> {
  const objects = new S3ObjectStore({ client: s3.client, bucket: s3.bucket });
  const chunkBytes = 256 * MiB;
  const catalog = new Catalog(
    buildCatalogData({
      jobTypes: [
        defineJobType({
          name: 'cat',
          image: 'i',
          command: ['cat'],
          chunking: { chunkSizeBytes: chunkBytes, maxChunks: 100_000 },
        }),
      ],
    }),
  );
  const deps = coreDeps(catalog, objects);
  const { job } = await submitJob(
    deps,
    SubmitRequestSchema.parse({ type: 'cat', input: objects.uri('inputs/huge.txt') }),
    { kind: 'api' },
  );
  const plan = await planExecution(deps, job, 1);
  const env = { ...process.env, ...plan.submissions[0]!.environment, [WorkerEnv.bucket]: s3.bucket };
  // Chunk 1 of the 10 GiB object: [256 MiB, 512 MiB).
  const start = chunkBytes;
  const end = 2 * chunkBytes;

  const baseline = async () => {
    const t = performance.now();
    const got = await s3.client.send(
      new GetObjectCommand({ Bucket: s3.bucket, Key: 'inputs/huge.txt', Range: `bytes=${start}-${end - 1}` }),
    );
    await new Upload({
      client: s3.client,
      params: { Bucket: s3.bucket, Key: 'bench/copy', Body: got.Body as NodeJS.ReadableStream as never },
      partSize: 8 * MiB,
      queueSize: 2,
    }).done();
    return performance.now() - t;
  };
  const worker = async () => {
    const t = performance.now();
    const outcome = await runChunk({
      objects,
      env: { ...env, [WorkerEnv.arrayIndex]: '1' },
      command: ['cat'],
    });
    if (outcome.exitCode !== 0) throw new Error(`worker failed: ${JSON.stringify(outcome.checkpoint.error)}`);
    return performance.now() - t;
  };
  await baseline();
  await worker();
  const baselineMs: number[] = [];
  const workerMs: number[] = [];
  for (let i = 0; i < 3; i++) {
    baselineMs.push(await baseline());
    workerMs.push(await worker());
  }
  const mb = chunkBytes / MiB;
  const base = median(baselineMs);
  const work = median(workerMs);
  const throughput: Row = {
    benchmark: `worker streaming through cat (${mb} MiB range)`,
    measured: `${(mb / (work / 1000)).toFixed(0)} MiB/s`,
    baseline: `${(mb / (base / 1000)).toFixed(0)} MiB/s (SDK GetObject → Upload)`,
    ratio: (base / work).toFixed(2),
    target: '≥ 0.8',
    pass: base / work >= 0.8,
  };

  // Peak RSS of the worker process (the real entrypoint, as a container runs it) for two chunk sizes.
  const peak = async (index: number, size: number) => {
    const { job: j } = await submitJob(
      deps,
      SubmitRequestSchema.parse({
        type: 'cat',
        input: objects.uri('inputs/huge.txt'),
        chunking: { chunkSizeBytes: size },
      }),
      { kind: 'api' },
    );
    const p = await planExecution(deps, j, 1);
    const childEnv = {
      ...process.env,
      ...p.submissions[0]!.environment,
      [WorkerEnv.bucket]: s3.bucket,
      [WorkerEnv.arrayIndex]: String(index),
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    };
    // The worker process's own high-water mark, read from outside (/proc) while it runs.
    let workerPeak = 0;
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        defaultLocalWorkerCommand()[0]!,
        [...defaultLocalWorkerCommand().slice(1), '--', 'cat'],
        {
          env: childEnv,
          stdio: 'inherit',
        },
      );
      const sampler = setInterval(() => {
        workerPeak = Math.max(workerPeak, vmHwm(child.pid));
      }, 20);
      child.once('exit', () => clearInterval(sampler));
      child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited ${code}`))));
    });
    const text = await objects.getText(chunkCheckpointKey(j.id, index));
    const reported = ChunkCheckpointSchema.parse(JSON.parse(text!)).peakRssBytes;
    return { external: workerPeak / MiB, reported: reported / MiB };
  };
  const small = await peak(1, 32 * MiB);
  const large = await peak(1, 512 * MiB);
  const memory: Row = {
    benchmark: 'worker peak RSS (/proc VmHWM): 512 MiB chunk vs 32 MiB chunk',
    measured: `${large.external.toFixed(0)} MiB (heartbeat says ${large.reported.toFixed(0)})`,
    baseline: `${small.external.toFixed(0)} MiB (heartbeat says ${small.reported.toFixed(0)})`,
    ratio: (large.external / small.external).toFixed(2),
    target: 'bounded (≈ 1, independent of chunk size)',
    pass: large.external / small.external <= 1.5 && large.external < 512,
  };
  return [throughput, memory];
}

// ── 3. local parallel speed-up ─────────────────────────────────────────────────────────────────────────────────

async function parallelSpeedUp(): Promise<Row> {
  const dataDir = mkdtempSync(join(tmpdir(), 'offpeak-bench-'));
  // CPU-bound per record, so that two processes on two cores really run twice as fast as one: the work per byte is
  // high enough that streaming the records (measured above) is a small share of each chunk's CPU.
  const crunch = defineJobType({
    name: 'crunch',
    image: 'i',
    command: ['awk', '{ for (i = 0; i < 9600; i++) s += length($0) * i } END { print s }'],
    chunking: { chunkSizeBytes: 1 * GiB },
    retry: { attempts: 1 },
    timeoutSeconds: 600,
  });
  const catalogData = buildCatalogData({ jobTypes: [crunch], queues: defaultQueues });
  // The worker as images run it: the bundle of `npm run build:worker`, built from the same source now.
  const bundle = await buildWorker(join(dataDir, 'worker.mjs'));
  const service = await startLocalService({
    catalogData,
    dataDir,
    slots: 2,
    dispatchIntervalMs: 100,
    reconcileIntervalMs: 600_000,
    workerCommand: [process.execPath, bundle],
  });
  try {
    const objects = service.deps.objects!;
    const size = 2 * MiB;
    await objects.upload(
      'inputs/crunch.txt',
      (async function* () {
        for (let at = 0; at < size; at += 8 * MiB) yield generatedBytes(at, Math.min(size, at + 8 * MiB));
      })(),
    );
    const timeJob = async (chunkSizeBytes: number) => {
      const t = performance.now();
      const response = await fetch(`${service.url}/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          type: 'crunch',
          input: objects.uri('inputs/crunch.txt'),
          chunking: { chunkSizeBytes },
        }),
      });
      const { id } = (await response.json()) as { id: string };
      for (;;) {
        const job = (await (await fetch(`${service.url}/jobs/${id}`)).json()) as {
          state: string;
          chunks?: { total: number };
        };
        if (job.state === 'SUCCEEDED') return { ms: performance.now() - t, chunks: job.chunks?.total ?? 0 };
        if (job.state === 'FAILED') throw new Error(`crunch job failed: ${JSON.stringify(job)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    // Two cores are only two cores if nothing else runs: the load average says whether they were free.
    const loadBefore = loadavg()[0]!;
    const one = await timeJob(size);
    const four = await timeJob(size / 4);
    const ratio = four.ms / one.ms;
    return {
      benchmark: `local parallel: ${four.chunks} chunks vs ${one.chunks} on 2 slots (2 MiB, CPU-bound awk; load avg ${loadBefore.toFixed(1)} → ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores)`,
      measured: `${(four.ms / 1000).toFixed(1)} s`,
      baseline: `${(one.ms / 1000).toFixed(1)} s`,
      ratio: ratio.toFixed(2),
      target: '≤ 0.6',
      pass: ratio <= 0.6,
    };
  } finally {
    await service.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// ── 4. packing ────────────────────────────────────────────────────────────────────────────────────────────────

async function packing(): Promise<Row> {
  const jobs = 10_000;
  const measure = async (packed: boolean) => {
    const type = defineJobType({
      name: 'ping',
      image: 'i',
      command: ['true'],
      ...(packed ? { packing: { windowSeconds: 5, jobsPerChild: 100, maxJobs: 10_000 } } : {}),
    });
    const catalog = new Catalog(
      buildCatalogData({
        jobTypes: [type],
        queues: [{ name: 'normal', batchPriority: 200, concurrency: 100_000 }],
      }),
    );
    const deps = coreDeps(catalog, new MemoryObjectStore());
    for (let i = 0; i < jobs; i++) {
      await submitJob(deps, SubmitRequestSchema.parse({ type: 'ping' }), { kind: 'api' });
    }
    (deps.clock as ManualClock).advance(5_000);
    const executor = deps.executor as RecordingExecutor;
    // The SubmitJob smoother (design: under Batch's 50 calls/s) hands out tokens as time passes: a pass that
    // submits nothing waits a (virtual) second; ten such seconds in a row end the run.
    for (let idle = 0; idle < 10; ) {
      const before = executor.submitted.length;
      await dispatchAll({ ...deps, settings: { ...deps.settings, dispatchBatchSize: jobs } });
      if (executor.submitted.length > before) idle = 0;
      else {
        idle++;
        (deps.clock as ManualClock).advance(1_000);
      }
    }
    return {
      submits: executor.submitted.length,
      starts: executor.submitted.reduce((n, r) => n + (r.arraySize ?? 1), 0),
    };
  };
  const plain = await measure(false);
  const packed = await measure(true);
  return {
    benchmark: 'packing 10,000 small jobs',
    measured: `${packed.submits} SubmitJob, ${packed.starts} container starts`,
    baseline: `${plain.submits} SubmitJob, ${plain.starts} container starts (unpacked)`,
    ratio: `submits ${(packed.submits / plain.submits).toFixed(4)}, starts ${(packed.starts / plain.starts).toFixed(4)}`,
    target: '≤ 10 submits, ≤ 100 starts',
    pass: packed.submits <= 10 && packed.starts <= 100,
  };
}

function coreDeps(catalog: Catalog, objects: S3ObjectStore | MemoryObjectStore) {
  // The SubmitJob smoother on, as deployed (the packing baseline waits for its tokens).
  return testDeps({ catalog, objects, settings: defaultSettings });
}

/** VmHWM (peak resident set) of a process, in bytes; 0 when it cannot be read. */
function vmHwm(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}
