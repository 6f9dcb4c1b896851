import type { ExecutorJob } from '../../ports/executor.js';
import { ExecutorStatus } from '../../ports/executor.js';
import type { OffpeakDeps } from '../deps.js';
import { serializeError } from '../errors.js';
import type { Job } from '../job.js';
import { transitionJob } from '../job.js';
import { executorJobName } from '../job-name.js';
import { activeStates, JobState } from '../job-state.js';
import { evaluateWaitingJob } from './dependencies.js';
import { releaseRetry } from './dispatch.js';
import { runCompletionEffects } from './effects.js';
import { queueSlotCounter } from './slots.js';
import { applyExecutorUpdate } from './track.js';
import { updateJobWith } from './update-job.js';

/** What one reconciler pass repaired. Every count is also logged per job. */
export interface ReconcileSummary {
  /** SUBMITTING jobs found at the executor by name and recorded. */
  adopted: number;
  /** SUBMITTING jobs the executor never got: back in the queue. */
  requeued: number;
  /** SUBMITTED/RUNNING jobs whose lost state change was read from the executor. */
  refreshed: number;
  /** SUBMITTED/RUNNING jobs the executor no longer knows: failed through the retry policy. */
  lost: number;
  /** RETRY_WAIT jobs past their time whose release message was lost. */
  retriesReleased: number;
  /** WAITING jobs re-evaluated against their dependencies. */
  waitingResolved: number;
  /** Finished jobs whose completion effects (event, slot, dependents) a crash had cut short. */
  effectsCompleted: number;
  /** Slot counters corrected to the number of active jobs. */
  countersCorrected: number;
  errors: number;
}

const PAGE = 100;
const END_OF_TIME = new Date('9999-12-31T23:59:59.999Z');

/**
 * Finds jobs stuck in a state longer than they should be and repairs them from the sources of truth (the job store
 * and the executor's DescribeJobs/ListJobs). Safe to run concurrently with everything else: every repair goes
 * through the transition table with conditional writes.
 */
export async function reconcile(deps: OffpeakDeps): Promise<ReconcileSummary> {
  const summary: ReconcileSummary = {
    adopted: 0,
    requeued: 0,
    refreshed: 0,
    lost: 0,
    retriesReleased: 0,
    waitingResolved: 0,
    effectsCompleted: 0,
    countersCorrected: 0,
    errors: 0,
  };
  const now = deps.clock.now().getTime();
  const guard = async (job: Job, repair: () => Promise<void>) => {
    try {
      await repair();
    } catch (error) {
      summary.errors++;
      deps.log.error('Reconciler repair failed', { jobId: job.id, error: serializeError(error) });
    }
  };

  for (const job of await deps.store.jobsInStateSince(
    JobState.Submitting,
    new Date(now - deps.settings.submittingTimeoutMs),
    PAGE,
  )) {
    await guard(job, async () => {
      const found = (await deps.executor.findByName(executorJobName(job.type, job.id), job.queue)).filter(
        (e) => !job.attempts.some((a) => a.executorJobId === e.executorJobId),
      );
      const latest = found.sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0))[0];
      if (latest) {
        const outcome = await applyExecutorUpdate(deps, latest);
        if (outcome.kind === 'changed') summary.adopted++;
        deps.log.warn('Reconciler adopted an unrecorded executor job', {
          jobId: job.id,
          executorJobId: latest.executorJobId,
        });
        return;
      }
      const outcome = await updateJobWith(deps, job.id, (current) =>
        current.state === JobState.Submitting && current.version === job.version
          ? transitionJob(
              current,
              JobState.Queued,
              deps.clock.now(),
              { holdsSlot: false },
              'reconciler: submit never reached the executor',
            )
          : undefined,
      );
      if (outcome.changed) {
        if (job.holdsSlot) await deps.store.releaseSlot(queueSlotCounter(job.queue));
        summary.requeued++;
        deps.log.warn('Reconciler requeued a job stuck in SUBMITTING', { jobId: job.id });
      }
    });
  }

  for (const state of [JobState.Submitted, JobState.Running]) {
    const stale = await deps.store.jobsInStateSince(state, new Date(now - deps.settings.staleActiveMs), PAGE);
    const ids = stale.map((j) => j.executorJobId).filter((id): id is string => id !== undefined);
    const described = new Map(
      (ids.length > 0 ? await deps.executor.describe(ids) : []).map((e) => [e.executorJobId, e]),
    );
    for (const job of stale) {
      await guard(job, async () => {
        const executorJob = job.executorJobId ? described.get(job.executorJobId) : undefined;
        if (executorJob) {
          const outcome = await applyExecutorUpdate(deps, executorJob);
          if (outcome.kind === 'changed') {
            summary.refreshed++;
            deps.log.warn('Reconciler applied a lost state change', { jobId: job.id, to: outcome.to });
          }
          return;
        }
        const lostUpdate: ExecutorJob = {
          executorJobId: job.executorJobId ?? 'unknown',
          jobName: executorJobName(job.type, job.id),
          status: ExecutorStatus.Failed,
          statusReason: 'Executor job not found (lost by the executor)',
        };
        const outcome = await applyExecutorUpdate(deps, lostUpdate);
        if (outcome.kind === 'changed') {
          summary.lost++;
          deps.log.warn('Reconciler failed a job its executor lost', { jobId: job.id, to: outcome.to });
        }
      });
    }
  }

  for (const job of await deps.store.jobsInStateSince(JobState.RetryWait, new Date(now), PAGE)) {
    await guard(job, async () => {
      if (job.retryAt && Date.parse(job.retryAt) > now) return;
      const released = await releaseRetry(deps, job.id);
      if (released?.state === JobState.Queued) summary.retriesReleased++;
    });
  }

  for (const job of await deps.store.jobsInStateSince(JobState.Waiting, new Date(now - 60_000), PAGE)) {
    await guard(job, async () => {
      const after = await evaluateWaitingJob(deps, job.id);
      if (after && after.state !== JobState.Waiting) summary.waitingResolved++;
    });
  }

  for (const state of [JobState.Succeeded, JobState.Failed, JobState.Cancelled, JobState.Skipped]) {
    // Completion effects a crash cut short. Effects run within seconds of the state write, so only jobs that
    // ended between one hour and one minute ago are looked at.
    const recent = await deps.store.jobsInStateSince(
      state,
      new Date(now - 60_000),
      1000,
      new Date(now - 3_600_000),
    );
    for (const job of recent.filter((j) => j.effectsPending)) {
      await guard(job, async () => {
        await runCompletionEffects(deps, job);
        summary.effectsCompleted++;
      });
    }
  }

  summary.countersCorrected = await recountSlots(deps);
  return summary;
}

/**
 * Sets each queue's slot counter to the number of its active jobs, if the counter did not change while counting.
 * Claims write the job before the counter, so a claim racing with the count either is counted or changes the
 * counter's version (and the reset is skipped until the next pass).
 */
export async function recountSlots(deps: OffpeakDeps): Promise<number> {
  let corrected = 0;
  for (const queue of deps.catalog.queues()) {
    const counter = queueSlotCounter(queue.name);
    const usage = await deps.store.slotUsage(counter);
    let active = 0;
    for (const state of activeStates) {
      const jobs = await allInState(deps, state);
      active += jobs.filter((j) => j.queue === queue.name && j.holdsSlot).length;
    }
    if (active !== usage.used && (await deps.store.resetSlots(counter, active, usage.version))) {
      corrected++;
      deps.log.warn('Reconciler corrected a slot counter', {
        queue: queue.name,
        from: usage.used,
        to: active,
      });
    }
  }
  return corrected;
}

async function allInState(deps: OffpeakDeps, state: JobState): Promise<Job[]> {
  // Active jobs are bounded by the queues' concurrency limits, so reading them all is cheap. (The bound is a
  // four-digit year on purpose: index keys are ISO strings, and a six-digit year would sort before them.)
  return deps.store.jobsInStateSince(state, END_OF_TIME, 10_000);
}
