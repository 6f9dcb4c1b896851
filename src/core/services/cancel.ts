import { CrashPoint, crashPoint } from '../crash-point.js';
import type { OffpeakDeps } from '../deps.js';
import { ConflictError, NotFoundError } from '../errors.js';
import type { Job } from '../job.js';
import { patchJob, transitionJob } from '../job.js';
import { isTerminal, JobState } from '../job-state.js';
import { completionPatch, runCompletionEffects } from './effects.js';
import { updateJobWith } from './update-job.js';

/**
 * Cancels a job in any non-terminal state. A job that is running has its executor job terminated first; one in the
 * middle of being submitted is marked so that the dispatcher terminates what it submitted.
 *
 * @throws NotFoundError unknown job
 * @throws ConflictError `JobFinished` when the job already ended otherwise (cancelling a CANCELLED job again answers
 *   the job: safe to repeat)
 */
export async function cancelJob(
  deps: OffpeakDeps,
  jobId: string,
  reason = 'Cancelled by user',
): Promise<Job> {
  const job = await deps.store.getJob(jobId);
  if (!job) throw new NotFoundError('JobNotFound', `No job with id ${jobId}`);
  // A repeated cancel (a client retrying after a timeout) gets the cancelled job, not an error, and finishes
  // effects a crash may have cut short.
  if (job.state === JobState.Cancelled) return job.effectsPending ? runCompletionEffects(deps, job) : job;
  if (isTerminal(job.state)) {
    throw new ConflictError('JobFinished', `Job ${jobId} already ended as ${job.state}; nothing to cancel`, {
      details: { state: job.state },
    });
  }
  if ((job.state === JobState.Submitted || job.state === JobState.Running) && job.executorJobId) {
    await deps.executor.terminate(job.executorJobId, reason);
  }
  const outcome = await updateJobWith(
    deps,
    jobId,
    (current) => {
      if (isTerminal(current.state)) return undefined;
      const now = deps.clock.now();
      return transitionJob(
        patchJob(current, now, { cancelRequested: true }),
        JobState.Cancelled,
        now,
        { ...completionPatch(current), statusReason: reason },
        reason,
      );
    },
    job,
  );
  if (!outcome.changed) {
    if (outcome.job.state === JobState.Cancelled) return outcome.job;
    throw new ConflictError(
      'JobFinished',
      `Job ${jobId} ended as ${outcome.job.state} before it could be cancelled`,
      {
        details: { state: outcome.job.state },
      },
    );
  }
  // It may have moved on (e.g. SUBMITTED) between our read and our write: terminate what it runs now.
  if (outcome.before.executorJobId && outcome.before.executorJobId !== job.executorJobId) {
    await deps.executor.terminate(outcome.before.executorJobId, reason);
  }
  crashPoint(deps, CrashPoint.CancelAfterWrite);
  deps.log.info('Job cancelled', { jobId, from: outcome.before.state });
  return runCompletionEffects(deps, outcome.after);
}
