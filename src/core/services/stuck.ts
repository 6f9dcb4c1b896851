import { OffpeakEventType } from '../../ports/event-bus.js';
import type { OffpeakDeps } from '../deps.js';
import { serializeError } from '../errors.js';
import type { Job } from '../job.js';
import { transitionJob } from '../job.js';
import { JobState } from '../job-state.js';
import type { QueueSpec } from '../queue-spec.js';
import { completionPatch, runCompletionEffects } from './effects.js';
import { updateJobWith } from './update-job.js';

/** Where a stuck job waits: in Offpeak's queue, or at the executor, accepted but not started. */
export type StuckState = 'QUEUED' | 'RUNNABLE';

/**
 * Fails a job that waited QUEUED longer than its queue's `maxQueuedSeconds` (QUEUED → FAILED, error `StuckInQueue`),
 * unless it moved on meanwhile. @returns true when this call failed it.
 */
export async function failStuckQueuedJob(deps: OffpeakDeps, job: Job): Promise<boolean> {
  const max = deps.catalog.findQueue(job.queue)?.maxQueuedSeconds;
  const reason = `waited QUEUED longer than the ${max} s queue "${job.queue}" allows`;
  const outcome = await updateJobWith(
    deps,
    job.id,
    (current) =>
      current.state === JobState.Queued && current.stateChangedAt === job.stateChangedAt
        ? transitionJob(
            current,
            JobState.Failed,
            deps.clock.now(),
            {
              ...completionPatch(current),
              error: { name: 'JobStuck', code: 'StuckInQueue', message: reason },
              statusReason: reason,
            },
            'stuck in queue',
          )
        : undefined,
    job,
  );
  if (!outcome.changed) return false;
  deps.log.warn('Stuck job failed', { jobId: job.id, queue: job.queue, state: 'QUEUED' });
  await runCompletionEffects(deps, outcome.after);
  return true;
}

/**
 * Fails a released job whose executor job has not started within its queue's `maxRunnableSeconds` (SUBMITTED →
 * FAILED, error `StuckRunnable`), gives its slots back and terminates the executor job. The job is failed first, so the
 * executor's report of the termination finds it finished and changes nothing. @returns true when this call failed it.
 */
export async function failStuckRunnableJob(deps: OffpeakDeps, job: Job): Promise<boolean> {
  const max = deps.catalog.findQueue(job.queue)?.maxRunnableSeconds;
  const reason = `did not start at the executor within the ${max} s queue "${job.queue}" allows`;
  const outcome = await updateJobWith(
    deps,
    job.id,
    (current) =>
      current.state === JobState.Submitted && current.executorJobId === job.executorJobId
        ? transitionJob(
            current,
            JobState.Failed,
            deps.clock.now(),
            {
              ...completionPatch(current),
              error: { name: 'JobStuck', code: 'StuckRunnable', message: reason },
              statusReason: reason,
            },
            'stuck at the executor',
          )
        : undefined,
    job,
  );
  if (!outcome.changed) return false;
  deps.log.warn('Stuck job failed', { jobId: job.id, queue: job.queue, state: 'RUNNABLE' });
  if (job.executorJobId) {
    try {
      await deps.executor.terminate(job.executorJobId, reason);
    } catch (error) {
      // The job is failed and its slots go back either way; an executor job left behind is logged, not retried.
      deps.log.error('Could not terminate a stuck executor job', {
        jobId: job.id,
        executorJobId: job.executorJobId,
        error: serializeError(error),
      });
    }
  }
  await runCompletionEffects(deps, outcome.after);
  return true;
}

/**
 * Publishes one `Queue Stuck` event for jobs of `queue` waiting longer than it allows, at most once per
 * `stuckAlertIntervalMs` per queue and state whatever the number of reconcilers. @returns true when it was published.
 */
export async function raiseQueueStuck(
  deps: OffpeakDeps,
  queue: QueueSpec,
  state: StuckState,
  jobs: readonly Job[],
): Promise<boolean> {
  if (jobs.length === 0) return false;
  if (
    !(await deps.scheduling.claimAlert(`queue#${queue.name}#${state}`, deps.settings.stuckAlertIntervalMs))
  ) {
    return false;
  }
  const oldest = [...jobs].sort((a, b) => (a.stateChangedAt < b.stateChangedAt ? -1 : 1));
  const first = oldest[0] as Job;
  const maxWaitSeconds = state === 'QUEUED' ? queue.maxQueuedSeconds : queue.maxRunnableSeconds;
  await deps.events.publish([
    {
      detailType: OffpeakEventType.QueueStuck,
      resources: oldest.slice(0, 10).map((j) => j.id),
      detail: {
        queue: queue.name,
        state,
        /** At least this many (the reconciler looks at a bounded number of the oldest). */
        waiting: jobs.length,
        maxWaitSeconds,
        oldestJobId: first.id,
        oldestSince: first.stateChangedAt,
        jobIds: oldest.slice(0, 10).map((j) => j.id),
      },
    },
  ]);
  deps.log.warn('Queue stuck', { queue: queue.name, state, waiting: jobs.length, oldestJobId: first.id });
  return true;
}
