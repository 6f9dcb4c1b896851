import { z } from 'zod';
import type { SerializedError } from './errors.js';

const SerializedErrorSchema: z.ZodType<SerializedError> = z.lazy(() =>
  z.object({
    name: z.string(),
    message: z.string(),
    code: z.string().optional(),
    cause: SerializedErrorSchema.optional(),
  }),
);

/**
 * One chunk's progress heartbeat, checkpoint and outcome, written by the worker to
 * `checkpoints/<jobId>/chunk-<chunk>.json`. A retried chunk resumes at (`segment`, `offset`).
 */
export const ChunkCheckpointSchema = z.object({
  jobId: z.string(),
  chunk: z.number().int().min(0),
  run: z.number().int().min(1),
  attempt: z.number().int().min(0),
  state: z.enum(['running', 'succeeded', 'failed']),
  /** Index of the chunk segment the next record is in. */
  segment: z.number().int().min(0),
  /** Absolute offset (in that segment's object) where the next uncommitted record starts. */
  offset: z.number().int().min(0),
  /** Records and bytes committed (delivered and made durable) so far, over every attempt. */
  records: z.number().int().min(0),
  bytes: z.number().int().min(0),
  /** Streaming mode with commits: output objects of the committed windows, in order. */
  windows: z.array(z.string()).default([]),
  /** Records and bytes read by the current attempt (progress, committed or not). */
  progress: z
    .object({ records: z.number().int().min(0), bytes: z.number().int().min(0) })
    .default({ records: 0, bytes: 0 }),
  cpuSeconds: z.number().min(0).default(0),
  peakRssBytes: z.number().int().min(0).default(0),
  /** Where a GPU is present: mean utilisation and the largest memory in use (nvidia-smi samples). */
  gpuUtilisationPercent: z.number().min(0).max(100).optional(),
  gpuMemoryMiB: z.number().min(0).optional(),
  startedAt: z.string(),
  updatedAt: z.string(),
  error: SerializedErrorSchema.optional(),
  partKey: z.string().optional(),
  partBytes: z.number().int().min(0).optional(),
});
export type ChunkCheckpoint = z.infer<typeof ChunkCheckpointSchema>;

/**
 * Written after a chunk's output part is complete: the tracker lists these (one LIST per 1,000 chunks) to know
 * which chunks succeeded, whatever events were lost.
 */
export function chunkSuccessMarkerKey(jobId: string, index: number): string {
  return `checkpoints/${jobId}/succeeded/chunk-${String(index).padStart(5, '0')}`;
}

/** The chunk index of a success marker key, or undefined. */
export function chunkIndexOfSuccessMarker(jobId: string, key: string): number | undefined {
  const prefix = `checkpoints/${jobId}/succeeded/chunk-`;
  if (!key.startsWith(prefix)) return undefined;
  const rest = key.slice(prefix.length);
  return /^\d+$/.test(rest) ? Number(rest) : undefined;
}
