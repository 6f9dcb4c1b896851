import { CrashPoint, crashPoint } from '../crash-point.js';
import type { OffpeakDeps } from '../deps.js';
import { ConflictError, NotFoundError } from '../errors.js';
import type { Job } from '../job.js';
import { patchJob, transitionJob } from '../job.js';
import { isTerminal, JobState } from '../job-state.js';
import { completionPatch, runCompletionEffects } from './effects.js';
import { executorJobsToTerminate } from './packing.js';
import { updateJobWith } from './update-job.js';

/**
 * Cancels a job in any non-terminal state. A job that is running has its executor job terminated first. A job in
 * the middle of being submitted (SUBMITTING) is only marked `cancelRequested` and returned as it is: the dispatcher
 * that claimed it owns it (and maybe its slot) until it records the submission, so that dispatcher completes the
 * cancel (terminating what it submitted, giving its slot back), or the reconciler does if it died. Counters and
 * slots stay exact under any interleaving (test/unit/cancel-property.test.ts).
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
  for (const executorJobId of executorJobsToStop(job)) await deps.executor.terminate(executorJobId, reason);
  const outcome = await updateJobWith(
    deps,
    jobId,
    (current) => {
      if (isTerminal(current.state)) return undefined;
      const now = deps.clock.now();
      // A job being submitted belongs to the dispatcher that claimed it (it may be taking its slot right now):
      // mark it, and that dispatcher completes the cancel, terminating whatever it submitted.
      if (current.state === JobState.Submitting) {
        return current.cancelRequested
          ? undefined
          : patchJob(current, now, { cancelRequested: true, statusReason: reason });
      }
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
  const settled = outcome.changed ? outcome.after : outcome.job;
  if (settled.state === JobState.Submitting && settled.cancelRequested) {
    deps.log.info('Cancel requested while the job is being submitted', { jobId });
    return settled;
  }
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
  const stopped = new Set(executorJobsToStop(job));
  for (const executorJobId of executorJobsToStop(outcome.before)) {
    if (!stopped.has(executorJobId)) await deps.executor.terminate(executorJobId, reason);
  }
  crashPoint(deps, CrashPoint.CancelAfterWrite);
  deps.log.info('Job cancelled', { jobId, from: outcome.before.state });
  return runCompletionEffects(deps, outcome.after);
}

/**
 * The executor jobs a cancel must terminate: what the job runs as now (a plain job's Batch job, every array job of a
 * chunk run; none for a packed job, whose array runs other jobs too: it is skipped by the pack worker).
 */
export function executorJobsToStop(job: Job): string[] {
  const active = job.state === JobState.Submitted || job.state === JobState.Running;
  return active ? executorJobsToTerminate(job) : [];
}
