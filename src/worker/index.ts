import { writeSync } from 'node:fs';
import { WorkerEnv } from '../core/worker-env.js';

/**
 * `offpeak/worker`: the worker runtime's library for TypeScript jobs that run in environment mode and want finer
 * control: read the chunk's coordinates, report progress and record checkpoints so a retried chunk resumes where
 * this attempt stopped. It talks to the worker over `OFFPEAK_CONTROL_FD` (one JSON line per call), so it has no
 * AWS dependency; outside a worker every call is a harmless no-op.
 *
 * @example
 * import { chunk, checkpoint, progress } from 'offpeak/worker';
 * const c = chunk();
 * for await (const record of readRange(c.inputUri, c.start, c.end)) {
 *   await write(record);
 *   checkpoint(record.endOffset, { records: ++n });
 * }
 */

/** The coordinates of the chunk this process runs. */
export interface ChunkInfo {
  readonly index: number;
  readonly count: number;
  readonly inputUri: string;
  /** Owned records start in `[start, end)` (design §3); `start` is the resume point after a retry. */
  readonly start: number;
  readonly end: number;
  readonly segments: readonly {
    readonly uri: string;
    readonly start: number;
    readonly end: number;
    readonly segment: number;
  }[];
  readonly outputUri: string;
  readonly format: string;
  readonly csvHeader?: string;
  /** Set when a previous attempt checkpointed: where it stopped and how many records it had committed. */
  readonly resume?: { readonly offset: number; readonly records: number };
}

/** @returns the chunk's coordinates, or undefined outside an Offpeak worker. */
export function chunk(env: NodeJS.ProcessEnv = process.env): ChunkInfo | undefined {
  const index = env[WorkerEnv.chunkIndex];
  const inputUri = env[WorkerEnv.inputUri];
  if (index === undefined || inputUri === undefined) return undefined;
  const resumeOffset = env[WorkerEnv.resumeOffset];
  return {
    index: Number(index),
    count: Number(env[WorkerEnv.chunkCount] ?? 1),
    inputUri,
    start: Number(env[WorkerEnv.rangeStart] ?? 0),
    end: Number(env[WorkerEnv.rangeEnd] ?? 0),
    segments: JSON.parse(env[WorkerEnv.segments] ?? '[]'),
    outputUri: env[WorkerEnv.outputUri] ?? '',
    format: env[WorkerEnv.format] ?? 'lines',
    ...(env[WorkerEnv.csvHeader] !== undefined ? { csvHeader: env[WorkerEnv.csvHeader] } : {}),
    ...(resumeOffset !== undefined
      ? { resume: { offset: Number(resumeOffset), records: Number(env[WorkerEnv.resumeRecords] ?? 0) } }
      : {}),
  };
}

/**
 * Records that every record before `offset` (an absolute offset in the chunk's object, where the next record
 * starts) is done and its output durable. A retry of the chunk starts there.
 *
 * @returns false outside a worker.
 */
export function checkpoint(
  offset: number,
  extra: { readonly records?: number; readonly bytes?: number; readonly segment?: number } = {},
): boolean {
  return send({ type: 'checkpoint', offset, ...extra });
}

/** Reports progress (shown in the chunk's heartbeat). @returns false outside a worker. */
export function progress(counts: { readonly records?: number; readonly bytes?: number }): boolean {
  return send({ type: 'progress', ...counts });
}

function send(message: Record<string, unknown>): boolean {
  const fd = Number(process.env[WorkerEnv.controlFd]);
  if (!Number.isInteger(fd) || fd < 3) return false;
  try {
    writeSync(fd, `${JSON.stringify(message)}\n`);
    return true;
  } catch {
    return false;
  }
}
