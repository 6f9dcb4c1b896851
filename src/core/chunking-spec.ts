import { z } from 'zod';

/** Record formats the planner and the worker split: one record per line, a CSV header travelling to every chunk. */
export const InputFormat = { Lines: 'lines', JsonLines: 'jsonl', Csv: 'csv' } as const;
export type InputFormat = (typeof InputFormat)[keyof typeof InputFormat];

/** How the worker hands a chunk to the user's command (design §3). */
export const WorkerMode = {
  /** Exactly the chunk's records on stdin; stdout becomes `outputs/<jobId>/part-<chunk>`. Any language. */
  Streaming: 'streaming',
  /** `OFFPEAK_INPUT_URI`, `OFFPEAK_RANGE_START`, `OFFPEAK_RANGE_END`, … in the environment; the command reads and writes itself. */
  Environment: 'environment',
} as const;
export type WorkerMode = (typeof WorkerMode)[keyof typeof WorkerMode];

/** Bytes per chunk when neither a size nor a duration target is given. */
export const DEFAULT_CHUNK_BYTES = 64 * 1024 * 1024;
/** AWS Batch's limit on children per array job. */
export const MAX_ARRAY_SIZE = 10_000;
/** Hard cap on chunks per job: the per-chunk state string lives on the job item (one character per chunk). */
export const MAX_CHUNKS = 100_000;

/** CSV options. */
export const CsvSpecSchema = z
  .object({
    /** The first record of each object is a header, passed to every chunk ahead of its records. @default true */
    header: z.boolean().default(true),
    /** Field delimiter. @default ',' */
    delimiter: z.string().length(1).default(','),
    /**
     * Quoted fields may contain newlines. Such a file cannot be split by byte ranges (a newline no longer ends a
     * record), so it must be declared `splittable: false` (one chunk per object). @default false
     */
    quotedNewlines: z.boolean().default(false),
  })
  .strict();
export type CsvSpec = z.infer<typeof CsvSpecSchema>;

const chunkSizingShape = {
  /** Bytes per chunk (byte-range splitting), ≥ 1. */
  chunkSizeBytes: z.number().int().min(1).optional(),
  /**
   * Records per chunk. Turned into bytes from the average record size of a sample of the input's first 64 KiB
   * (one ranged read, whatever the input's size), so chunks hold about this many records.
   */
  chunkSizeRecords: z.number().int().min(1).optional(),
  /** Target duration of one chunk in seconds, with `throughputBytesPerSecond` (used when no size is given). */
  targetChunkSeconds: z
    .number()
    .positive()
    .max(14 * 86_400)
    .optional(),
  /** At most this many chunks; beyond it chunks grow. Above 10,000, several array jobs are submitted. */
  maxChunks: z.number().int().min(1).max(MAX_CHUNKS).optional(),
};

/** Chunk sizing that a submit request may override for one job. */
export const ChunkSizingSchema = z
  .object(chunkSizingShape)
  .strict()
  .refine((s) => !(s.chunkSizeBytes !== undefined && s.chunkSizeRecords !== undefined), {
    message: 'give chunkSizeBytes or chunkSizeRecords, not both',
  });
export type ChunkSizing = z.infer<typeof ChunkSizingSchema>;

/**
 * How a job type's input is chunked and how the worker runs each chunk (design §3).
 *
 * @example
 * chunking: { format: 'csv', chunkSizeBytes: 128 * 1024 * 1024, mode: 'streaming' }
 */
export const ChunkingSpecSchema = z
  .object({
    /** @default 'lines' */
    format: z.enum(['lines', 'jsonl', 'csv']).default('lines'),
    /**
     * Byte-range splitting of an object (the default). `false`: each object is read whole by one chunk (required
     * for CSV with quoted newlines); prefix inputs still spread objects over chunks.
     * @default true
     */
    splittable: z.boolean().default(true),
    csv: CsvSpecSchema.optional(),
    ...chunkSizingShape,
    /** Estimated processing rate, for `targetChunkSeconds` and dry-run estimates. @default 8 MiB/s */
    throughputBytesPerSecond: z
      .number()
      .positive()
      .default(8 * 1024 * 1024),
    /** @default 'streaming' */
    mode: z.enum(['streaming', 'environment']).default('streaming'),
    /**
     * Streaming mode: restart the command and commit its output every this many input bytes, so a retried chunk
     * resumes at the last commit. Only for commands whose output per record does not depend on earlier records
     * (maps, filters). Unset: the chunk is one unit; a retry runs it again from its start.
     * @default - no intermediate commits
     */
    commitEveryBytes: z.number().int().min(1).optional(),
    /** How often the worker writes its progress heartbeat (records, bytes, CPU, memory). @default 10 */
    heartbeatSeconds: z.number().min(0.05).max(3600).default(10),
    /**
     * The worker entrypoint inside the container image, put in front of the job type's command by the job
     * definition (build it with `npm run build:worker`).
     * @default ['node', '/opt/offpeak/worker.mjs']
     */
    workerCommand: z.array(z.string()).min(1).default(['node', '/opt/offpeak/worker.mjs']),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if (spec.chunkSizeBytes !== undefined && spec.chunkSizeRecords !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['chunkSizeRecords'],
        message: 'give chunkSizeBytes or chunkSizeRecords, not both',
      });
    }
    if (spec.csv && spec.format !== 'csv') {
      ctx.addIssue({ code: 'custom', path: ['csv'], message: 'csv options need format: "csv"' });
    }
    if (spec.csv?.quotedNewlines && spec.splittable) {
      ctx.addIssue({
        code: 'custom',
        path: ['splittable'],
        message: 'a CSV with quoted newlines cannot be split by byte ranges: declare splittable: false',
      });
    }
    if (spec.commitEveryBytes !== undefined && spec.mode !== 'streaming') {
      ctx.addIssue({
        code: 'custom',
        path: ['commitEveryBytes'],
        message: 'commitEveryBytes is for streaming mode',
      });
    }
  });
export type ChunkingSpec = z.infer<typeof ChunkingSpecSchema>;
export type ChunkingSpecInput = z.input<typeof ChunkingSpecSchema>;

/**
 * Failed chunks a job may have and still succeed (its failures are listed in the result manifest): a job whose
 * failed chunks are within either limit succeeds. The default tolerates none.
 */
export const FailurePolicySchema = z
  .object({
    /** Percentage of the job's chunks that may fail. @default 0 */
    toleratedFailurePercent: z.number().min(0).max(100).default(0),
    /** Number of chunks that may fail, whatever the percentage. @default 0 */
    toleratedFailureCount: z.number().int().min(0).default(0),
  })
  .strict();
export type FailurePolicy = z.infer<typeof FailurePolicySchema>;

/**
 * Small-job packing: jobs of this type submitted within `windowSeconds` of each other are run together as one
 * array job whose children each run up to `jobsPerChild` of them one after the other.
 */
export const PackingSpecSchema = z
  .object({
    /** How long the oldest waiting job is held for others to join its pack. @default 5 */
    windowSeconds: z.number().min(0).max(900).default(5),
    /** Jobs one child (one container start) runs. @default 100 */
    jobsPerChild: z.number().int().min(1).max(10_000).default(100),
    /** Jobs in one pack (one SubmitJob); a pack's children are `ceil(jobs / jobsPerChild)`. @default 10_000 */
    maxJobs: z.number().int().min(2).max(1_000_000).default(10_000),
    /** @default ['node', '/opt/offpeak/worker.mjs'] */
    workerCommand: z.array(z.string()).min(1).default(['node', '/opt/offpeak/worker.mjs']),
  })
  .strict();
export type PackingSpec = z.infer<typeof PackingSpecSchema>;

/** A job type run once after all chunks of a job succeeded, over its result manifest (`OFFPEAK_INPUT_URI`). */
export const ReduceSpecSchema = z
  .object({
    /** Name of the (plain, unchunked) job type that reduces. */
    jobType: z.string().regex(/^[a-z][a-z0-9-]{0,39}$/),
  })
  .strict();
export type ReduceSpec = z.infer<typeof ReduceSpecSchema>;

/**
 * Whether `failed` of `total` chunks are within `policy`: at most `toleratedFailureCount` chunks or at most
 * `toleratedFailurePercent` of them. A job with no failures is always within.
 *
 * @example withinTolerance({ toleratedFailurePercent: 1, toleratedFailureCount: 0 }, 3, 1000) // true (0.3 %)
 */
export function withinTolerance(policy: FailurePolicy, failed: number, total: number): boolean {
  if (failed <= 0) return true;
  if (total <= 0) return false;
  return failed <= policy.toleratedFailureCount || (failed / total) * 100 <= policy.toleratedFailurePercent;
}
