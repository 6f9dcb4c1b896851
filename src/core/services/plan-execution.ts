import type { ExecutionHandle } from '../../ports/executor.js';
import type { ObjectStore } from '../../ports/object-store.js';
import type { CatalogJobType } from '../catalog.js';
import {
  arrayJobsFor,
  type ChunkLayoutPlan,
  type ChunkManifest,
  ChunkManifestSchema,
  decodeIndexRanges,
  encodeIndexRanges,
  firstLine,
  type PlanInput,
  parseCsvHeader,
  planChunkLayout,
  runManifestKey,
  SAMPLE_BYTES,
} from '../chunk-plan.js';
import type { ChunkingSpec, ChunkSizing } from '../chunking-spec.js';
import type { OffpeakDeps } from '../deps.js';
import { NonRetryableError, ValidationError } from '../errors.js';
import type { Job, JobInput, JobPatch } from '../job.js';
import { WorkerEnv, WorkerRole } from '../worker-env.js';
import { planPack } from './packing.js';

/** One executor job to submit for a job: an array job (`arraySize ≥ 2`) or a plain one. */
export interface PlannedSubmission {
  readonly arraySize?: number;
  /** Added to the job's environment. */
  readonly environment: Readonly<Record<string, string>>;
}

/**
 * How the dispatcher runs a job: the executor jobs to submit, the fields to record with SUBMITTED, and what to do
 * once recorded. A plain job is one submission and records nothing more.
 */
export interface ExecutionPlan {
  readonly submissions: readonly PlannedSubmission[];
  /** Fields recorded on the job with SUBMITTED, given the handles (one per submission, in order). */
  readonly patch: (handles: readonly ExecutionHandle[]) => JobPatch;
  /** Runs after the job was recorded SUBMITTED (a pack records its members). */
  readonly afterRecord?: (handles: readonly ExecutionHandle[]) => Promise<void>;
  /** Runs when a submission failed after the plan claimed more than this job (a pack releases its members). */
  readonly abandon?: () => Promise<void>;
}

/**
 * Plans how the dispatcher runs `job` (design §1 "It plans chunks, submits the Batch job"): a chunked job type gets
 * a manifest in S3 and one array job per 10,000 chunks (a plan of one chunk is a plain job); a retry of a chunked
 * job runs only its failed chunks; a packed job type takes the other queued jobs of its type into its pack; a job
 * with an input (a reduce step) gets its coordinates in the environment.
 *
 * @throws ValidationError when the plan cannot be made (missing input, unparsable CSV header…): the job fails.
 */
export async function planExecution(deps: OffpeakDeps, job: Job, attempt: number): Promise<ExecutionPlan> {
  const type = deps.catalog.jobType(job.type);
  if (type.chunking) return planChunkedRun(deps, job, type, type.chunking, attempt);
  if (type.packing) return planPack(deps, job, type, type.packing, attempt);
  const environment: Record<string, string> = job.input ? { [WorkerEnv.inputUri]: job.input.uri } : {};
  return { submissions: [{ environment }], patch: () => ({}) };
}

async function planChunkedRun(
  deps: OffpeakDeps,
  job: Job,
  type: CatalogJobType,
  spec: ChunkingSpec,
  _attempt: number,
): Promise<ExecutionPlan> {
  const objects = requireObjects(deps);
  const previous = job.run ? await readManifest(objects, job.run.manifestKey) : undefined;
  let manifest: ChunkManifest;
  if (previous && job.chunks) {
    const failed = [...job.chunks.states].flatMap((state, index) => (state === 'S' ? [] : [index]));
    if (failed.length === 0) {
      throw new NonRetryableError('NothingToRetry', `Job ${job.id} has no failed chunks to run again`);
    }
    const run = previous.run + 1;
    manifest = {
      ...previous,
      run,
      createdAt: deps.clock.now().toISOString(),
      select: failed,
      arrays: arrayJobsFor(failed.length),
    };
  } else {
    if (!job.input) {
      throw new ValidationError(
        'InputRequired',
        `Job type "${type.name}" is chunked: the job needs an input`,
      );
    }
    const planned = await planInput(objects, job.input, spec, job.chunkSizing);
    manifest = {
      version: 1,
      jobId: job.id,
      run: 1,
      createdAt: deps.clock.now().toISOString(),
      input: {
        kind: planned.input.kind,
        uri: planned.input.uri,
        objects: planned.layout.objects,
        bytes: planned.layout.bytes,
        ...(planned.etag ? { etag: planned.etag } : {}),
        ...(planned.layout.skippedObjects > 0 ? { skippedObjects: planned.layout.skippedObjects } : {}),
      },
      format: spec.format,
      splitting: planned.layout.splitting,
      ...(spec.format === 'csv'
        ? {
            csv: {
              header: spec.csv?.header ?? true,
              delimiter: spec.csv?.delimiter ?? ',',
              quotedNewlines: spec.csv?.quotedNewlines ?? false,
              ...(planned.csvHeader !== undefined ? { headerLine: planned.csvHeader } : {}),
            },
          }
        : {}),
      mode: spec.mode,
      ...(spec.commitEveryBytes !== undefined ? { commitEveryBytes: spec.commitEveryBytes } : {}),
      heartbeatSeconds: spec.heartbeatSeconds,
      outputPrefix: `outputs/${job.id}/`,
      bucketUri: objects.uri(''),
      sizing: planned.layout.sizing,
      chunkCount: planned.layout.chunkCount,
      layout: planned.layout.layout,
      arrays: arrayJobsFor(planned.layout.chunkCount),
    };
  }
  const manifestKey = runManifestKey(job.id, manifest.run);
  await objects.put(manifestKey, JSON.stringify(manifest), 'application/json');
  deps.log.info('Chunk run planned', {
    jobId: job.id,
    run: manifest.run,
    chunks: manifest.select?.length ?? manifest.chunkCount,
    arrays: manifest.arrays.length,
    splitting: manifest.splitting,
    chunkBytes: manifest.sizing.chunkBytes,
  });
  const runChunks = manifest.select ?? undefined;
  return {
    submissions: manifest.arrays.map((array) => ({
      ...(array.size >= 2 ? { arraySize: array.size } : {}),
      environment: {
        [WorkerEnv.role]: WorkerRole.Chunk,
        [WorkerEnv.manifestKey]: manifestKey,
        [WorkerEnv.arrayOffset]: String(array.offset),
        [WorkerEnv.run]: String(manifest.run),
      },
    })),
    patch: (handles) => {
      const states = runStates(job, manifest, runChunks);
      return {
        run: {
          number: manifest.run,
          manifestKey,
          ...(runChunks ? { chunks: encodeIndexRanges(runChunks) } : {}),
          arrays: manifest.arrays.map((array, i) => ({
            executorJobId: handles[i]!.executorJobId,
            offset: array.offset,
            size: array.size,
          })),
        },
        executorJobIds: handles.map((h) => h.executorJobId),
        chunks: progressOf(states),
        failedChunks: [],
        outputUri: objects.uri(manifest.outputPrefix),
      };
    },
  };
}

/** Chunk states at the start of a run: the run's chunks pending, the others as they were. */
function runStates(job: Job, manifest: ChunkManifest, runChunks: readonly number[] | undefined): string {
  if (!runChunks || !job.chunks) return '.'.repeat(manifest.chunkCount);
  const states = [...job.chunks.states.padEnd(manifest.chunkCount, '.')];
  for (const index of runChunks) states[index] = '.';
  return states.join('');
}

/** Counters derived from a state string (one character per chunk). */
export function progressOf(states: string): NonNullable<Job['chunks']> {
  let pending = 0;
  let running = 0;
  let succeeded = 0;
  let failed = 0;
  for (const state of states) {
    if (state === 'S') succeeded++;
    else if (state === 'F') failed++;
    else if (state === 'R') running++;
    else pending++;
  }
  return { total: states.length, pending, running, succeeded, failed, states };
}

/** The chunk indexes a job's current run executes, in array order. */
export function runChunkIndexes(job: Pick<Job, 'run' | 'chunks'>): number[] {
  if (!job.run) return [];
  if (job.run.chunks !== undefined) return decodeIndexRanges(job.run.chunks);
  return Array.from({ length: job.chunks?.total ?? 0 }, (_, i) => i);
}

/** The result of looking at a job's input: the layout and what was read to make it. */
export interface PlannedInput {
  readonly input: PlanInput;
  readonly layout: ChunkLayoutPlan;
  readonly etag?: string;
  readonly csvHeader?: string;
  /** Storage calls made (HEAD/LIST/GET): constant for one object, whatever its size. */
  readonly storageCalls: number;
}

/**
 * Looks at an input with as few storage calls as its size allows — one HeadObject for an object (plus one ranged
 * read of its first 64 KiB for a CSV header or records sizing), one listing for a prefix — and plans its chunks.
 *
 * @throws ValidationError `InputNotFound`, `InputOutsideBucket`, `EmptyInput`, `InvalidCsvHeader`, `InvalidChunkSize`
 */
export async function planInput(
  objects: ObjectStore,
  input: JobInput,
  spec: ChunkingSpec,
  sizing: ChunkSizing | undefined,
): Promise<PlannedInput> {
  if (input.kind === 'manifest') {
    throw new ValidationError('InvalidInput', 'A chunked job takes an object or a prefix as input');
  }
  const key = keyInBucket(objects, input.uri);
  let calls = 0;
  let plan: PlanInput;
  let etag: string | undefined;
  if (input.kind === 'object') {
    const info = await objects.head(key);
    calls++;
    if (!info) throw new ValidationError('InputNotFound', `Input object ${input.uri} does not exist`);
    etag = info.etag;
    plan = { kind: 'object', uri: input.uri, object: { key, size: info.size } };
  } else {
    const listed = await objects.list(key);
    calls++;
    plan = { kind: 'prefix', uri: input.uri, objects: listed.map((o) => ({ key: o.key, size: o.size })) };
  }
  const needsHeader = spec.format === 'csv' && (spec.csv?.header ?? true);
  const needsSample = needsHeader || (sizing?.chunkSizeRecords ?? spec.chunkSizeRecords) !== undefined;
  let sample: Uint8Array | undefined;
  let csvHeader: string | undefined;
  if (needsSample) {
    const first =
      plan.kind === 'object'
        ? plan.object
        : [...plan.objects].sort((a, b) => (a.key < b.key ? -1 : 1)).find((o) => o.size > 0);
    if (first && first.size > 0) {
      sample = await readSample(objects, first.key, Math.min(first.size, SAMPLE_BYTES));
      calls++;
      if (needsHeader) {
        const line = firstLine(sample, first.size <= SAMPLE_BYTES);
        if (line === undefined) {
          throw new ValidationError(
            'InvalidCsvHeader',
            `CSV header does not parse: no line end in the first ${SAMPLE_BYTES} bytes of ${first.key}`,
          );
        }
        parseCsvHeader(line, { delimiter: spec.csv?.delimiter ?? ',' });
        csvHeader = line.endsWith('\r') ? line.slice(0, -1) : line;
      }
    } else if (needsHeader && plan.kind === 'object') {
      throw new ValidationError('InvalidCsvHeader', `CSV header does not parse: ${input.uri} is empty`);
    }
  }
  const layout = planChunkLayout(plan, spec, sizing, sample);
  return {
    input: plan,
    layout,
    ...(etag ? { etag } : {}),
    ...(csvHeader !== undefined ? { csvHeader } : {}),
    storageCalls: calls,
  };
}

async function readSample(objects: ObjectStore, key: string, length: number): Promise<Uint8Array> {
  const body = await objects.read(key, { start: 0, end: length });
  if (!body) throw new ValidationError('InputNotFound', `Input object ${objects.uri(key)} does not exist`);
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const part of body) {
    parts.push(part);
    size += part.byteLength;
    if (size >= length) break;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out.subarray(0, length);
}

/**
 * The key of an `s3://` URI inside the Offpeak bucket. Inputs live in that bucket (under `inputs/` by
 * convention): job roles and the dispatcher are granted exactly its prefixes.
 *
 * @throws ValidationError `InputOutsideBucket`
 */
export function keyInBucket(objects: Pick<ObjectStore, 'uri'>, uri: string): string {
  const base = objects.uri('');
  if (!uri.startsWith(base) || uri.length === base.length) {
    throw new ValidationError('InputOutsideBucket', `Input ${uri} must be in the Offpeak bucket (${base}…)`, {
      details: { bucket: base },
    });
  }
  return uri.slice(base.length);
}

/** The job input a submit request asks for. */
export function jobInputOf(input: string | { readonly prefix: string } | undefined): JobInput | undefined {
  if (input === undefined) return undefined;
  return typeof input === 'string' ? { kind: 'object', uri: input } : { kind: 'prefix', uri: input.prefix };
}

/** Reads and validates a run manifest. @throws NonRetryableError when it is missing or invalid. */
export async function readManifest(objects: ObjectStore, key: string): Promise<ChunkManifest> {
  const text = await objects.getText(key);
  if (text === undefined)
    throw new NonRetryableError('ManifestNotFound', `Manifest ${objects.uri(key)} is missing`);
  return ChunkManifestSchema.parse(JSON.parse(text));
}

/** The bucket, or a clear error when this deployment has none. */
export function requireObjects(deps: Pick<OffpeakDeps, 'objects'>): ObjectStore {
  if (!deps.objects) {
    throw new NonRetryableError(
      'NoObjectStore',
      'Chunked and packed job types need the Offpeak bucket (OFFPEAK_BUCKET)',
    );
  }
  return deps.objects;
}
