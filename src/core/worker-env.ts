/**
 * The environment contract between the dispatcher (which plans), the worker runtime (the container entrypoint,
 * src/worker) and the user's command. Batch adds `AWS_BATCH_JOB_ARRAY_INDEX` to array children.
 */
export const WorkerEnv = {
  /** `chunk` (a chunked run) or `pack` (a pack of small jobs): tells the worker what to run. */
  role: 'OFFPEAK_WORKER',
  /** Key (in the Offpeak bucket) of the run's manifest. */
  manifestKey: 'OFFPEAK_MANIFEST_KEY',
  /** Position of this array job's child 0 within the run (array jobs after the first start past 10,000). */
  arrayOffset: 'OFFPEAK_ARRAY_OFFSET',
  /** The run number (1, then one more per retry of failed chunks). */
  run: 'OFFPEAK_RUN',
  /** Set by Batch on array children; absent for a plan of one chunk (position 0). */
  arrayIndex: 'AWS_BATCH_JOB_ARRAY_INDEX',
  /** The Offpeak bucket name (job definitions and the local executor set it). */
  bucket: 'OFFPEAK_BUCKET',

  // ── given to the user's command ──
  /** `s3://bucket/key` of the chunk's object (the first one, for a chunk of several objects). */
  inputUri: 'OFFPEAK_INPUT_URI',
  /** First byte of the range: the chunk owns the records that start in `[start, end)`. On resume: the checkpoint. */
  rangeStart: 'OFFPEAK_RANGE_START',
  /** End of the range (exclusive). */
  rangeEnd: 'OFFPEAK_RANGE_END',
  /** JSON array of every `{uri, start, end}` segment of the chunk (prefix inputs may give several objects). */
  segments: 'OFFPEAK_SEGMENTS',
  /** Where the chunk's output belongs: `s3://bucket/outputs/<jobId>/part-<chunk>`. */
  outputUri: 'OFFPEAK_OUTPUT_URI',
  /** The chunk index (stable across retries). */
  chunkIndex: 'OFFPEAK_CHUNK_INDEX',
  /** Chunks in the plan. */
  chunkCount: 'OFFPEAK_CHUNK_COUNT',
  /** `lines`, `jsonl` or `csv`. */
  format: 'OFFPEAK_FORMAT',
  /** A CSV input's header line (sent ahead of the records in streaming mode). */
  csvHeader: 'OFFPEAK_CSV_HEADER',
  /** Where a previous attempt of this chunk stopped (absent: from the start). */
  resumeOffset: 'OFFPEAK_RESUME_OFFSET',
  /** Records a previous attempt committed before `OFFPEAK_RESUME_OFFSET`. */
  resumeRecords: 'OFFPEAK_RESUME_RECORDS',
  /** File descriptor the command may write progress/checkpoint lines to (the `offpeak/worker` library does). */
  controlFd: 'OFFPEAK_CONTROL_FD',
} as const;

/** What the worker runs. */
export const WorkerRole = { Chunk: 'chunk', Pack: 'pack' } as const;
export type WorkerRole = (typeof WorkerRole)[keyof typeof WorkerRole];
