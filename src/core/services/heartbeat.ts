import { z } from 'zod';
import type { OffpeakDeps } from '../deps.js';
import { NotFoundError } from '../errors.js';
import type { Job } from '../job.js';
import { patchJob } from '../job.js';
import { ProgressReportSchema } from '../observability/progress.js';
import { mergeUsage, ResourceUsageSchema } from '../observability/resource-usage.js';
import { updateJobWith } from './update-job.js';

/**
 * What a worker runtime (or the local executor) reports about a running attempt: resource usage and progress.
 * Body of `POST /jobs/{id}/heartbeat`.
 */
export const HeartbeatSchema = z
  .object({
    attempt: z.number().int().min(1),
    /** The executor job reporting (an array child reports `<parent>:<index>`). */
    executorJobId: z.string().min(1).max(200).optional(),
    usage: ResourceUsageSchema.optional(),
    progress: ProgressReportSchema.optional(),
  })
  .strict()
  .refine((h) => h.usage !== undefined || h.progress !== undefined, {
    message: 'a heartbeat carries usage, progress or both',
  });
export type Heartbeat = z.infer<typeof HeartbeatSchema>;

/**
 * Records a heartbeat on the job: usage on the attempt it names (totals never go backwards, peaks keep the
 * largest), progress when it is about the current attempt. A heartbeat about an attempt the job does not have, or
 * from another executor job than the attempt's, is stale and changes nothing. Never changes the job's state.
 *
 * @throws NotFoundError unknown job
 */
export async function recordHeartbeat(deps: OffpeakDeps, jobId: string, heartbeat: Heartbeat): Promise<Job> {
  const outcome = await updateJobWith(deps, jobId, (job) => {
    const attempt = job.attempts.find((a) => a.attempt === heartbeat.attempt);
    if (!attempt) return undefined;
    const reporter = heartbeat.executorJobId;
    if (
      reporter !== undefined &&
      attempt.executorJobId !== undefined &&
      reporter !== attempt.executorJobId &&
      !reporter.startsWith(`${attempt.executorJobId}:`)
    ) {
      return undefined;
    }
    const usage = heartbeat.usage ? mergeUsage(attempt.usage, heartbeat.usage) : attempt.usage;
    const progress =
      heartbeat.progress &&
      heartbeat.attempt === job.attempt &&
      (!job.reportedProgress || heartbeat.progress.updatedAt >= job.reportedProgress.updatedAt)
        ? heartbeat.progress
        : job.reportedProgress;
    if (usage === attempt.usage && progress === job.reportedProgress) return undefined;
    if (
      JSON.stringify(usage) === JSON.stringify(attempt.usage) &&
      JSON.stringify(progress) === JSON.stringify(job.reportedProgress)
    ) {
      return undefined;
    }
    return patchJob(job, deps.clock.now(), {
      attempts: job.attempts.map((a) =>
        a.attempt === attempt.attempt ? { ...a, ...(usage ? { usage } : {}) } : a,
      ),
      ...(progress ? { reportedProgress: progress } : {}),
    });
  }).catch((error: unknown) => {
    if (error instanceof NotFoundError) throw new NotFoundError('JobNotFound', `No job with id ${jobId}`);
    throw error;
  });
  return outcome.changed ? outcome.after : outcome.job;
}
