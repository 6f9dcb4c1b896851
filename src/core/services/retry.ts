import { DeadLetterStatus } from '../dead-letter.js';
import type { OffpeakDeps } from '../deps.js';
import { ConflictError, NotFoundError } from '../errors.js';
import type { Job, JobRetry } from '../job.js';
import { reopenJob } from '../job.js';
import { JobState } from '../job-state.js';
import { dependencyVerdict } from './dependencies.js';
import { runCompletionEffects } from './effects.js';
import { markRedriven } from './mark-redriven.js';
import { updateJobWith } from './update-job.js';

export interface RetryOptions {
  /** `retry` (a person or tool asked) or `redrive` (from a dead letter). @default 'retry' */
  readonly cause?: JobRetry['cause'];
  /** The dead letter a redrive comes from: a repeated redrive of it is answered with the job, changing nothing. */
  readonly deadLetterId?: string;
  /** Who asked (an IAM principal ARN, …). */
  readonly actor?: string;
  /** Why, in the job's history. @default 'retried by request' */
  readonly reason?: string;
}

/** States a job can be retried from (see `retryTransitions`). */
const retryableStates: ReadonlySet<JobState> = new Set([JobState.Failed, JobState.Cancelled]);

/**
 * Puts a FAILED or CANCELLED job back in the queue for a new attempt series: the same job (its id, idempotency key,
 * history and earlier attempts stay), attempt numbers counting on, and the job type's full `retry.attempts` for the
 * series (`maxAttempts` becomes `attempt + retry.attempts`; the retry entry on `retries` marks where the series
 * starts). A chunked job keeps its chunk states, so its next run covers only the failed chunks, each resuming from
 * its checkpoint (plan-execution.ts). This is the only way out of a terminal state (`retryTransitions`). A cancelled job whose dependencies
 * have not all succeeded goes back to WAITING. Retrying a FAILED job resolves its open dead letter.
 *
 * Dependents that were skipped when the job failed stay skipped: submit them again if they should run.
 *
 * @throws NotFoundError `JobNotFound`
 * @throws ConflictError `JobNotRetryable` (the job is not FAILED or CANCELLED), `DependencyNotSucceeded`
 * @throws ValidationError `UnknownJobType` (the job type is no longer deployed)
 */
export async function retryJob(deps: OffpeakDeps, jobId: string, options: RetryOptions = {}): Promise<Job> {
  let job = await deps.store.getJob(jobId);
  if (!job) throw new NotFoundError('JobNotFound', `No job with id ${jobId}`);
  const replay = (candidate: Job) =>
    options.deadLetterId !== undefined &&
    (candidate.retries ?? []).some((r) => r.deadLetterId === options.deadLetterId);
  if (replay(job)) return job;
  assertRetryable(job);
  // Effects of the failure a crash cut short (slot, event, dependents, dead letter) come first.
  if (job.effectsPending) job = await runCompletionEffects(deps, job);
  const type = deps.catalog.jobType(job.type);

  let target: JobState = JobState.Queued;
  if (job.state === JobState.Cancelled && job.dependsOn.length > 0) {
    const dependencies = await deps.store.getJobs(job.dependsOn);
    const verdict = dependencyVerdict(dependencies, new Set(job.dependsOn).size);
    if (verdict === 'skip') {
      throw new ConflictError(
        'DependencyNotSucceeded',
        `Job ${jobId} cannot run again: a dependency did not succeed`,
        { details: { dependsOn: job.dependsOn } },
      );
    }
    target = verdict === 'wait' ? JobState.Waiting : JobState.Queued;
  }

  const cause = options.cause ?? 'retry';
  const outcome = await updateJobWith(
    deps,
    jobId,
    (current) => {
      if (replay(current)) return undefined;
      assertRetryable(current);
      const now = deps.clock.now();
      const entry: JobRetry = {
        at: now.toISOString(),
        fromAttempt: current.attempt,
        from: current.state as JobRetry['from'],
        cause,
        ...(options.deadLetterId ? { deadLetterId: options.deadLetterId } : {}),
        ...(options.actor ? { actor: options.actor } : {}),
      };
      return reopenJob(
        current,
        target,
        now,
        {
          maxAttempts: current.attempt + type.retry.attempts,
          retries: [...(current.retries ?? []), entry].slice(-20),
          holdsSlot: false,
          effectsPending: false,
          slotReleasePending: false,
          cancelRequested: undefined,
          retryAt: undefined,
        },
        cause === 'redrive'
          ? `redriven from dead letter ${options.deadLetterId}`
          : (options.reason ?? 'retried by request'),
      );
    },
    job,
  );
  if (!outcome.changed) return outcome.job;
  const after = outcome.after;
  deps.log.info('Job retried', {
    jobId,
    from: outcome.before.state,
    to: after.state,
    cause,
    fromAttempt: outcome.before.attempt,
    ...(options.deadLetterId ? { deadLetterId: options.deadLetterId } : {}),
  });
  if (cause === 'retry' && outcome.before.state === JobState.Failed && outcome.before.deadLetterId) {
    const open = await deps.deadLetters.getDeadLetter(outcome.before.deadLetterId);
    if (open?.status === DeadLetterStatus.Open) {
      await markRedriven(deps, open, {
        attempt: outcome.before.attempt + 1,
        ...(options.actor ? { actor: options.actor } : {}),
      });
    }
  }
  if (after.state === JobState.Queued) {
    try {
      await deps.dispatchQueue.send({ kind: 'nudge', queue: after.queue });
    } catch (error) {
      // The job is QUEUED; the dispatcher's schedule picks it up within a minute.
      deps.log.warn('Dispatcher nudge failed', { jobId, error: String(error) });
    }
  }
  return after;
}

function assertRetryable(job: Job): void {
  if (!retryableStates.has(job.state)) {
    throw new ConflictError(
      'JobNotRetryable',
      `Job ${job.id} is ${job.state}; only FAILED or CANCELLED jobs can be retried`,
      { details: { state: job.state } },
    );
  }
}
