import { z } from 'zod';

/**
 * What one attempt used, as reported by the worker runtime (heartbeats) or measured by the local executor.
 * Totals so far while the attempt runs, final values once it stopped.
 */
export const ResourceUsageSchema = z
  .object({
    /** CPU time (user + system) of the attempt's processes, in seconds. */
    cpuSeconds: z.number().min(0),
    /** Largest resident memory seen, in MiB. */
    peakMemoryMiB: z.number().min(0),
    /** Mean GPU utilisation in percent, where a GPU is present. */
    gpuUtilisationPercent: z.number().min(0).max(100).optional(),
    /** Largest GPU memory in use, in MiB, where a GPU is present. */
    gpuMemoryMiB: z.number().min(0).optional(),
    /** When the values were measured. */
    sampledAt: z.string(),
  })
  .strict();
export type ResourceUsage = z.infer<typeof ResourceUsageSchema>;

/**
 * Merges a newer report into what an attempt already has: totals never go backwards (a late, older heartbeat
 * cannot lower them) and peaks keep the largest value seen.
 */
export function mergeUsage(current: ResourceUsage | undefined, next: ResourceUsage): ResourceUsage {
  if (!current) return next;
  const newer = Date.parse(next.sampledAt) >= Date.parse(current.sampledAt);
  const gpuUtilisation = newer
    ? (next.gpuUtilisationPercent ?? current.gpuUtilisationPercent)
    : (current.gpuUtilisationPercent ?? next.gpuUtilisationPercent);
  const gpuMemory = maxDefined(current.gpuMemoryMiB, next.gpuMemoryMiB);
  return {
    cpuSeconds: Math.max(current.cpuSeconds, next.cpuSeconds),
    peakMemoryMiB: Math.max(current.peakMemoryMiB, next.peakMemoryMiB),
    ...(gpuUtilisation !== undefined ? { gpuUtilisationPercent: gpuUtilisation } : {}),
    ...(gpuMemory !== undefined ? { gpuMemoryMiB: gpuMemory } : {}),
    sampledAt: newer ? next.sampledAt : current.sampledAt,
  };
}

function maxDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.max(a, b);
}

/** What one finished chunk's worker recorded in its checkpoint. */
export interface ChunkUsage {
  readonly cpuSeconds: number;
  readonly peakRssBytes: number;
  readonly gpuUtilisationPercent?: number;
  readonly gpuMemoryMiB?: number;
}

/**
 * Adds finished chunks to an array attempt's usage: CPU seconds add up over the chunks, peak memory (and GPU memory)
 * is the largest one container reached (chunks run in separate containers), GPU utilisation the mean over the
 * chunks that report one (`countedBefore`: chunks already in `current`, for the weight). The caller adds each
 * chunk once (when its state first becomes terminal), so duplicated events never count it twice.
 */
export function addChunkUsage(
  current: ResourceUsage | undefined,
  chunks: readonly ChunkUsage[],
  at: Date,
  countedBefore = 0,
): ResourceUsage {
  const cpu = chunks.reduce((sum, c) => sum + c.cpuSeconds, current?.cpuSeconds ?? 0);
  const peakMiB = chunks.reduce((peak, c) => Math.max(peak, c.peakRssBytes / 1_048_576), 0);
  const gpuChunks = chunks.filter((c) => c.gpuUtilisationPercent !== undefined);
  let gpuUtilisation = current?.gpuUtilisationPercent;
  if (gpuChunks.length > 0) {
    const before = gpuUtilisation === undefined ? 0 : countedBefore;
    const sum = gpuChunks.reduce(
      (total, c) => total + (c.gpuUtilisationPercent ?? 0),
      (gpuUtilisation ?? 0) * before,
    );
    gpuUtilisation = Math.round((sum / (before + gpuChunks.length)) * 10) / 10;
  }
  const gpuMemory = chunks.reduce<number | undefined>(
    (peak, c) => (c.gpuMemoryMiB === undefined ? peak : Math.max(peak ?? 0, c.gpuMemoryMiB)),
    current?.gpuMemoryMiB,
  );
  return {
    cpuSeconds: Math.round(cpu * 100) / 100,
    peakMemoryMiB: Math.max(current?.peakMemoryMiB ?? 0, Math.round(peakMiB * 10) / 10),
    ...(gpuUtilisation !== undefined ? { gpuUtilisationPercent: gpuUtilisation } : {}),
    ...(gpuMemory !== undefined ? { gpuMemoryMiB: gpuMemory } : {}),
    sampledAt: at.toISOString(),
  };
}
