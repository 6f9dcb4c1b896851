import { z } from 'zod';
import { ChunkSizingSchema } from './chunking-spec.js';
import type { SerializedError } from './errors.js';
import { JobState, jobStates } from './job-state.js';
import { JobTypeNameSchema, QueueNameSchema } from './job-type.js';
import { ProgressReportSchema } from './observability/progress.js';
import { ResourceUsageSchema } from './observability/resource-usage.js';
import { assertRetryTransition, assertTransition } from './state-machine.js';
import { TriggerRuleSchema } from './trigger-rule.js';

export const TriggerKind = {
  Api: 'api',
  Queue: 'queue',
  Schedule: 'schedule',
  S3: 's3',
  Webhook: 'webhook',
  Event: 'event',
  Retry: 'retry',
} as const;
export type TriggerKind = (typeof TriggerKind)[keyof typeof TriggerKind];

/** Where a job came from. */
export const TriggerSchema = z.object({
  kind: z.enum(Object.values(TriggerKind) as [TriggerKind, ...TriggerKind[]]),
  /** e.g. the API route, a queue ARN, a schedule id, an S3 URI. */
  source: z.string().max(2048).optional(),
  /** Who caused it: an IAM principal ARN, a GitHub sender, … */
  actor: z.string().max(2048).optional(),
  /** When a scheduled run was due (`schedule` triggers). */
  scheduledTime: z.string().max(64).optional(),
  /** A run the local scheduler made up after it was missed (catch-up policy). */
  catchUp: z.boolean().optional(),
});
export type Trigger = z.infer<typeof TriggerSchema>;

const SerializedErrorSchema: z.ZodType<SerializedError> = z.lazy(() =>
  z.object({
    name: z.string(),
    message: z.string(),
    code: z.string().optional(),
    cause: SerializedErrorSchema.optional(),
  }),
);

/** Exactly what a job ran with, so any past run can be reproduced. */
export const RunSpecSchema = z.object({
  /** Content hash of the job type spec (see `jobTypeVersion`). */
  typeVersion: z.string(),
  /** Batch job definition ARN with its revision (or `local:<type>` for the local executor). */
  jobDefinition: z.string(),
  image: z.string(),
  command: z.array(z.string()),
});
export type RunSpec = z.infer<typeof RunSpecSchema>;

/** One execution attempt of a job. */
export const AttemptSchema = z.object({
  attempt: z.number().int().min(1),
  executorJobId: z.string().optional(),
  submittedAt: z.string().optional(),
  startedAt: z.string().optional(),
  stoppedAt: z.string().optional(),
  exitCode: z.number().int().optional(),
  statusReason: z.string().optional(),
  logStream: z.string().optional(),
  outcome: z.enum(['SUCCEEDED', 'FAILED', 'CANCELLED']).optional(),
  /** CPU, memory and GPU the attempt used (worker heartbeats; measured by the local executor). */
  usage: ResourceUsageSchema.optional(),
});
export type Attempt = z.infer<typeof AttemptSchema>;

export const StateChangeSchema = z.object({
  state: z.enum(jobStates as [JobState, ...JobState[]]),
  at: z.string(),
  reason: z.string().optional(),
});
export type StateChange = z.infer<typeof StateChangeSchema>;

/** Units of one concurrency counter (`queue#normal`, `type#etl`, `key#etl#acme`, `resource#warehouse-db`). */
export const SlotClaimSchema = z.object({
  counter: z.string().min(1),
  units: z.number().int().min(1),
});
export type SlotClaim = z.infer<typeof SlotClaimSchema>;
/** Where a job's input is: one object, every object under a prefix, or (a reduce step) a result manifest. */
export const JobInputSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('object'), uri: z.string() }),
  z.object({ kind: z.literal('prefix'), uri: z.string() }),
  z.object({ kind: z.literal('manifest'), uri: z.string() }),
]);
export type JobInput = z.infer<typeof JobInputSchema>;

/**
 * Chunk counters of a chunked job, kept exact under duplicated and out-of-order events by deriving them from
 * `states`: one character per chunk (`.` pending, `R` running, `S` succeeded, `F` failed).
 */
export const ChunkProgressSchema = z.object({
  total: z.number().int().min(0),
  pending: z.number().int().min(0),
  running: z.number().int().min(0),
  succeeded: z.number().int().min(0),
  failed: z.number().int().min(0),
  states: z.string(),
});
export type ChunkProgress = z.infer<typeof ChunkProgressSchema>;

/** One Batch array job of a chunk run: children `0..size-1` run the run's chunks `offset..offset+size-1`. */
export const RunArraySchema = z.object({
  executorJobId: z.string(),
  offset: z.number().int().min(0),
  size: z.number().int().min(1),
  /** Set when the array job's final state was seen. */
  done: z.boolean().optional(),
});
export type RunArray = z.infer<typeof RunArraySchema>;

/** The current execution of a chunked (or packed) job: its manifest and the executor jobs that run it. */
export const ChunkRunSchema = z.object({
  /** 1 for the first run; each retry of failed chunks is a new run. */
  number: z.number().int().min(1),
  manifestKey: z.string(),
  /** Chunk indexes this run executes, as ranges (`0-4,9`); absent: every chunk. */
  chunks: z.string().optional(),
  arrays: z.array(RunArraySchema),
});
export type ChunkRun = z.infer<typeof ChunkRunSchema>;

/** A chunk that failed, and why (at most {@link MAX_FAILED_CHUNKS_ON_JOB} are kept on the job). */
export const FailedChunkSchema = z.object({
  index: z.number().int().min(0),
  error: z.lazy(() => SerializedErrorSchema),
});
export type FailedChunk = z.infer<typeof FailedChunkSchema>;

/** The first failed chunks listed on the job item; the result manifest lists all of them. */
export const MAX_FAILED_CHUNKS_ON_JOB = 100;

/** A job run inside a pack (small-job packing): which pack, which child, which position in that child. */
export const PackMembershipSchema = z.object({
  leaderId: z.string(),
  manifestKey: z.string(),
  child: z.number().int().min(0),
  position: z.number().int().min(0),
});
export type PackMembership = z.infer<typeof PackMembershipSchema>;

/**
 * A manual retry (`POST /jobs/{id}/retry`) or a dead-letter redrive: the job went back to the queue for a new
 * attempt series of `retry.attempts` attempts, numbered on from `fromAttempt`.
 */
export const JobRetrySchema = z.object({
  at: z.string(),
  /** The last attempt before this series (attempt numbers continue: the series starts at fromAttempt + 1). */
  fromAttempt: z.number().int().min(0),
  /** The state it was retried from. */
  from: z.enum(['FAILED', 'CANCELLED']),
  cause: z.enum(['retry', 'redrive']),
  /** The dead letter a redrive came from. */
  deadLetterId: z.string().optional(),
  actor: z.string().max(2048).optional(),
});
export type JobRetry = z.infer<typeof JobRetrySchema>;

/** A repair the reconciler made to the job (also counted as the `ReconcilerRepairs` metric). */
export const JobRepairSchema = z.object({
  at: z.string(),
  /** What was repaired (see `RepairKind`). */
  repair: z.string(),
  detail: z.string().max(1000).optional(),
});
export type JobRepair = z.infer<typeof JobRepairSchema>;

/** At most this many repairs are kept on the job item (the oldest are dropped). */
export const MAX_REPAIRS = 20;

/** One run of a job type, as stored and as returned by the API. */
export const JobSchema = z.object({
  id: z.string(),
  type: JobTypeNameSchema,
  queue: QueueNameSchema,
  priority: z.number().int().min(0).max(1000),
  params: z.record(z.string(), z.unknown()),
  idempotencyKey: z.string().optional(),
  trigger: TriggerSchema,
  dependsOn: z.array(z.string()).default([]),
  /** When the job may run given its dependencies' outcomes. Absent means `all_success`. */
  triggerRule: TriggerRuleSchema.optional(),
  /** The pipeline this job is a step of, and the step's id. */
  pipelineId: z.string().optional(),
  stepId: z.string().optional(),
  /** The job whose output location becomes this job's input when it is released (a pipeline step's `input`). */
  inputFrom: z.string().optional(),
  state: z.enum(jobStates as [JobState, ...JobState[]]),
  /** Attempt number of the current or last execution (0 before the first submit). */
  attempt: z.number().int().min(0),
  maxAttempts: z.number().int().min(1),
  /** The current attempt's executor (Batch) job id. */
  executorJobId: z.string().optional(),
  runSpec: RunSpecSchema.optional(),
  attempts: z.array(AttemptSchema).default([]),
  history: z.array(StateChangeSchema).default([]),
  /** When RETRY_WAIT ends. */
  retryAt: z.string().optional(),
  /** True while the job holds (or is taking) the concurrency slots in `slots`. */
  holdsSlot: z.boolean().default(false),
  /**
   * The counters this job takes (in this order) when it is released, and gives back when it ends. Written by the
   * claim, before any counter is touched. Absent on jobs written before limits had levels: their queue's counter.
   */
  slots: z.array(SlotClaimSchema).optional(),
  /** Identifies one claim's slots, so a counter can refuse a repeated release of the same claim. */
  slotToken: z.string().optional(),
  /**
   * Completion effects (slot release, event, dependents, retry release) still to run after the state write that
   * made them due. Cleared by the write that follows them; re-run by a redelivered message or the reconciler.
   */
  effectsPending: z.boolean().optional(),
  /**
   * The slots given up by the last state write have not been returned to their counters yet: the writer of that
   * transition returns them (it alone), then clears this flag. Until then the job still counts as holding them.
   */
  slotReleasePending: z.boolean().optional(),
  cancelRequested: z.boolean().optional(),
  exitCode: z.number().int().optional(),
  statusReason: z.string().optional(),
  error: SerializedErrorSchema.optional(),
  outputUri: z.string().optional(),
  /** The job's S3 input (chunked job types; the result manifest for a reduce step). */
  input: JobInputSchema.optional(),
  /** Chunk sizing asked for by the submit request (overrides the job type's). */
  chunkSizing: ChunkSizingSchema.optional(),
  chunks: ChunkProgressSchema.optional(),
  run: ChunkRunSchema.optional(),
  /** Every executor job of the current attempt (several array jobs beyond 10,000 chunks, or a pack). */
  executorJobIds: z.array(z.string()).optional(),
  failedChunks: z.array(FailedChunkSchema).optional(),
  /** `s3://…/outputs/<jobId>/_manifest.json`: parts and failed chunks, written when the chunks are done. */
  resultManifestUri: z.string().optional(),
  pack: PackMembershipSchema.optional(),
  /** The reduce step submitted with this job (it waits for it). */
  reduceJobId: z.string().optional(),
  /** Manual retries and redrives, oldest first: each started a new attempt series. */
  retries: z.array(JobRetrySchema).optional(),
  /** Repairs the reconciler made, oldest first (at most {@link MAX_REPAIRS}). */
  repairs: z.array(JobRepairSchema).optional(),
  /** The dead letter recorded when the job last ended FAILED. */
  deadLetterId: z.string().optional(),
  /** Records/bytes done, as the current attempt's worker last reported them. */
  reportedProgress: ProgressReportSchema.optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** When the job entered its current state. */
  stateChangedAt: z.string(),
  finishedAt: z.string().optional(),
  /** Optimistic-concurrency version, incremented by every write. */
  version: z.number().int().min(0),
});
export type Job = z.infer<typeof JobSchema>;

/** Fields a transition may change besides the state. */
export type JobPatch = Partial<
  Omit<Job, 'id' | 'type' | 'state' | 'createdAt' | 'version' | 'history' | 'stateChangedAt'>
>;

/** At most this many state changes are kept on the job item (the oldest are dropped). */
export const MAX_HISTORY = 50;

/**
 * The next version of `job` in state `to`, checked against the transition table. Pure: the store writes it
 * conditionally on `job.version`.
 *
 * @throws ConflictError `IllegalTransition`
 */
export function transitionJob(job: Job, to: JobState, at: Date, patch: JobPatch = {}, reason?: string): Job {
  assertTransition(job.state, to);
  return applyTransition(job, to, at, patch, reason);
}

/**
 * Like {@link transitionJob}, for the transitions only a manual retry or a redrive may make (`retryTransitions`):
 * the job leaves its terminal state, so `finishedAt` and the last outcome (`error`, `exitCode`, `statusReason`) are
 * cleared — each attempt keeps its own in `attempts`.
 *
 * @throws ConflictError `IllegalTransition`
 */
export function reopenJob(job: Job, to: JobState, at: Date, patch: JobPatch = {}, reason?: string): Job {
  assertRetryTransition(job.state, to);
  const { finishedAt: _finishedAt, error: _error, exitCode: _exitCode, statusReason: _reason, ...rest } = job;
  return applyTransition(rest, to, at, patch, reason);
}

function applyTransition(job: Job, to: JobState, at: Date, patch: JobPatch, reason?: string): Job {
  const now = at.toISOString();
  const history = [...job.history, { state: to, at: now, ...(reason ? { reason } : {}) }].slice(-MAX_HISTORY);
  const terminal =
    to === JobState.Succeeded ||
    to === JobState.Failed ||
    to === JobState.Cancelled ||
    to === JobState.Skipped;
  return {
    ...job,
    ...patch,
    state: to,
    history,
    updatedAt: now,
    stateChangedAt: now,
    ...(terminal ? { finishedAt: now } : {}),
  };
}

/** Updates non-state fields (e.g. recording an attempt's start) with the same bookkeeping. */
export function patchJob(job: Job, at: Date, patch: JobPatch): Job {
  return { ...job, ...patch, updatedAt: at.toISOString() };
}

/** Replaces (or appends) the attempt record numbered `attempt.attempt`. */
export function withAttempt(job: Job, attempt: Attempt): Attempt[] {
  const others = job.attempts.filter((a) => a.attempt !== attempt.attempt);
  const existing = job.attempts.find((a) => a.attempt === attempt.attempt);
  return [...others, { ...existing, ...attempt }].sort((a, b) => a.attempt - b.attempt);
}

/**
 * The number of `attempt` within its attempt series: attempts count on across manual retries and redrives, but each
 * series gets the job type's full `retry.attempts`.
 */
export function attemptInSeries(job: Pick<Job, 'retries'>, attempt: number): number {
  return attempt - (job.retries?.at(-1)?.fromAttempt ?? 0);
}
