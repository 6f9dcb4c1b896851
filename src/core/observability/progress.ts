import { z } from 'zod';
import type { Job } from '../job.js';
import { isTerminal, JobState } from '../job-state.js';

/** Progress a worker reports (heartbeats) for the current attempt; every field is optional. */
export const ProgressReportSchema = z
  .object({
    recordsDone: z.number().int().min(0).optional(),
    recordsTotal: z.number().int().min(0).optional(),
    bytesDone: z.number().int().min(0).optional(),
    bytesTotal: z.number().int().min(0).optional(),
    /** When the report was made. */
    updatedAt: z.string(),
  })
  .strict();
export type ProgressReport = z.infer<typeof ProgressReportSchema>;

/** Chunk counters, as a chunked job carries them (any subset). */
export interface ChunkCounters {
  readonly total?: number;
  readonly succeeded?: number;
  readonly failed?: number;
  readonly running?: number;
}

/** How far a job got, computed from whatever the job carries (see {@link jobProgress}). */
export interface JobProgress {
  /** 0..1, or absent when nothing tells (a plain job that is still running and reports nothing). */
  readonly fraction?: number;
  /** Where `fraction` comes from. */
  readonly basis: 'chunks' | 'records' | 'bytes' | 'state' | 'none';
  readonly chunks?: {
    readonly total: number;
    readonly succeeded: number;
    readonly failed: number;
    readonly running: number;
    readonly done: number;
  };
  readonly records?: { readonly done: number; readonly total?: number };
  readonly bytes?: { readonly done: number; readonly total?: number };
  /** Seconds the current attempt has run (until it stopped, or until now). */
  readonly elapsedSeconds?: number;
  /** Units of `basis` per second over the current attempt. */
  readonly ratePerSecond?: number;
  /** Estimated seconds left at that rate. */
  readonly etaSeconds?: number;
}

/** What {@link jobProgress} reads from a job: its own fields, plus chunk counters when the job has them. */
export type ProgressSource = Pick<Job, 'state' | 'attempt' | 'attempts' | 'history'> & {
  readonly reportedProgress?: ProgressReport;
  readonly chunks?: ChunkCounters;
};

/**
 * A job's progress, computed from what it carries: chunk counters when it has them (chunked jobs), else the
 * records or bytes its worker reported, else its state (a finished job is done). Rate and ETA are over the
 * current attempt's running time. Pure: the API, the CLI and the dashboard all show this.
 *
 * @example
 * jobProgress(job, new Date()) // { fraction: 0.4, basis: 'chunks', chunks: {...}, ratePerSecond: 2, etaSeconds: 30 }
 */
export function jobProgress(job: ProgressSource, now: Date): JobProgress {
  const elapsedSeconds = attemptElapsedSeconds(job, now);
  const chunks = chunkView(job.chunks);
  const report = job.reportedProgress;
  const records =
    report?.recordsDone !== undefined
      ? {
          done: report.recordsDone,
          ...(report.recordsTotal !== undefined ? { total: report.recordsTotal } : {}),
        }
      : undefined;
  const bytes =
    report?.bytesDone !== undefined
      ? { done: report.bytesDone, ...(report.bytesTotal !== undefined ? { total: report.bytesTotal } : {}) }
      : undefined;
  const extras = {
    ...(chunks ? { chunks } : {}),
    ...(records ? { records } : {}),
    ...(bytes ? { bytes } : {}),
    ...(elapsedSeconds !== undefined ? { elapsedSeconds } : {}),
  };

  const measured: { basis: 'chunks' | 'records' | 'bytes'; done: number; total: number } | undefined =
    chunks && chunks.total > 0
      ? { basis: 'chunks', done: chunks.done, total: chunks.total }
      : records?.total
        ? { basis: 'records', done: records.done, total: records.total }
        : bytes?.total
          ? { basis: 'bytes', done: bytes.done, total: bytes.total }
          : undefined;
  if (measured) {
    const fraction = clamp01(measured.done / measured.total);
    const finished = isTerminal(job.state);
    const rate =
      elapsedSeconds !== undefined && elapsedSeconds > 0 && measured.done > 0
        ? measured.done / elapsedSeconds
        : undefined;
    const remaining = Math.max(0, measured.total - measured.done);
    return {
      fraction: finished && job.state === JobState.Succeeded ? 1 : fraction,
      basis: measured.basis,
      ...extras,
      ...(rate !== undefined ? { ratePerSecond: round(rate) } : {}),
      ...(rate !== undefined && !finished ? { etaSeconds: Math.round(remaining / rate) } : {}),
    };
  }
  if (isTerminal(job.state)) return { fraction: 1, basis: 'state', ...extras };
  // Records without a total still give a rate, but no fraction or ETA.
  const rate =
    records && elapsedSeconds !== undefined && elapsedSeconds > 0 ? records.done / elapsedSeconds : undefined;
  return {
    ...(job.state === JobState.Waiting || job.state === JobState.Queued ? { fraction: 0 } : {}),
    basis: job.state === JobState.Waiting || job.state === JobState.Queued ? 'state' : 'none',
    ...extras,
    ...(rate !== undefined ? { ratePerSecond: round(rate) } : {}),
  };
}

/** Seconds the current attempt has been running (or ran), from its start to its stop or `now`. */
export function attemptElapsedSeconds(
  job: Pick<Job, 'attempt' | 'attempts' | 'history'>,
  now: Date,
): number | undefined {
  const attempt = job.attempts.find((a) => a.attempt === job.attempt);
  const started =
    attempt?.startedAt ??
    (attempt?.submittedAt !== undefined
      ? job.history.findLast((h) => h.state === JobState.Running && h.at >= (attempt.submittedAt ?? ''))?.at
      : undefined);
  if (started === undefined) return undefined;
  const end = attempt?.stoppedAt !== undefined ? Date.parse(attempt.stoppedAt) : now.getTime();
  const seconds = (end - Date.parse(started)) / 1000;
  return Number.isFinite(seconds) ? Math.max(0, round(seconds)) : undefined;
}

function chunkView(counters: ChunkCounters | undefined): JobProgress['chunks'] {
  if (!counters || counters.total === undefined) return undefined;
  const succeeded = counters.succeeded ?? 0;
  const failed = counters.failed ?? 0;
  return {
    total: counters.total,
    succeeded,
    failed,
    running: counters.running ?? 0,
    done: succeeded + failed,
  };
}

function clamp01(value: number): number {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
