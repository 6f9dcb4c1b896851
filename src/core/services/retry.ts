import type { OffpeakDeps } from '../deps.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { type Job, transitionJob } from '../job.js';
import { JobState } from '../job-state.js';
import { updateJobWith } from './update-job.js';

/**
 * `POST /jobs/{id}/retry`: runs a FAILED job again as a new attempt, keeping its history and attempts. A chunked
 * job runs only its failed chunks (a new array job over a manifest of those chunks, each resuming from its
 * checkpoint); a plain job runs whole. The manual attempt is one more than the job had: automatic retries after
 * it follow the job type's retry policy as usual.
 *
 * @throws NotFoundError unknown job
 * @throws ConflictError `JobNotFailed` for any other state (a running job is still being retried or run)
 */
export async function retryJob(deps: OffpeakDeps, jobId: string, reason = 'Retried by user'): Promise<Job> {
  const job = await deps.store.getJob(jobId);
  if (!job) throw new NotFoundError('JobNotFound', `No job with id ${jobId}`);
  const outcome = await updateJobWith(
    deps,
    jobId,
    (current) => {
      if (current.state !== JobState.Failed) {
        throw new ConflictError(
          'JobNotFailed',
          `Job ${jobId} is ${current.state}; only a FAILED job can be retried`,
          {
            details: { state: current.state },
          },
        );
      }
      return transitionJob(
        current,
        JobState.Queued,
        deps.clock.now(),
        {
          maxAttempts: Math.max(current.maxAttempts, current.attempt + 1),
          error: undefined,
          exitCode: undefined,
          statusReason: undefined,
          retryAt: undefined,
          finishedAt: undefined,
          effectsPending: false,
          slotReleasePending: false,
          holdsSlot: false,
        },
        reason,
      );
    },
    job,
  );
  const after = outcome.changed ? outcome.after : outcome.job;
  deps.log.info('Job retried', { jobId, attempt: after.attempt + 1 });
  await deps.dispatchQueue.send({ kind: 'nudge', queue: after.queue });
  return after;
}
