import type { ExecutorJob } from '../../ports/executor.js';
import { ExecutorStatus } from '../../ports/executor.js';
import type { OffpeakDeps } from '../deps.js';
import { serializeError } from '../errors.js';
import type { Job } from '../job.js';
import { transitionJob } from '../job.js';
import { executorJobName } from '../job-name.js';
import { activeStates, isTerminal, JobState } from '../job-state.js';
import { cancelJob } from './cancel.js';
import { evaluateWaitingJob } from './dependencies.js';
import { cancelWhileSubmitting, releaseRetry } from './dispatch.js';
import { completionPatch, runCompletionEffects } from './effects.js';
import { RepairKind, recordRepair } from './repairs.js';
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
  /** Jobs whose executor job was RUNNABLE past `runnableTimeoutMs` (noted, or failed, per the setting). */
  runnableTimedOut: number;
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
    runnableTimedOut: 0,
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
        if (outcome.kind === 'changed') {
          summary.adopted++;
          await recordRepair(deps, RepairKind.AdoptedExecutorJob, {
            jobId: job.id,
            detail: `executor job ${latest.executorJobId} (${latest.status}) found by name; now ${outcome.to}`,
          });
        }
        // A cancel requested while it was being submitted, which its dead dispatcher never completed.
        const adopted = await deps.store.getJob(job.id);
        if (adopted?.cancelRequested && !isTerminal(adopted.state)) {
          await cancelJob(deps, job.id, adopted.statusReason ?? 'Cancelled by user');
        }
        return;
      }
      const outcome = await updateJobWith(deps, job.id, (current) =>
        current.state !== JobState.Submitting || current.version !== job.version
          ? undefined
          : current.cancelRequested
            ? cancelWhileSubmitting(current, deps.clock.now(), completionPatch(current))
            : transitionJob(
                current,
                JobState.Queued,
                deps.clock.now(),
                { holdsSlot: false },
                'reconciler: submit never reached the executor',
              ),
      );
      if (outcome.changed && outcome.after.state === JobState.Cancelled) {
        await runCompletionEffects(deps, outcome.after);
        summary.requeued++;
        await recordRepair(deps, RepairKind.RequeuedStuckSubmit, {
          jobId: job.id,
          detail: `SUBMITTING since ${job.stateChangedAt} with a cancel requested; cancelled`,
        });
      } else if (outcome.changed) {
        if (job.holdsSlot) await deps.store.releaseSlot(queueSlotCounter(job.queue));
        summary.requeued++;
        await recordRepair(deps, RepairKind.RequeuedStuckSubmit, {
          jobId: job.id,
          detail: `SUBMITTING since ${job.stateChangedAt}; the executor has no job of that name`,
        });
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
        if (
          executorJob?.status === ExecutorStatus.Runnable &&
          job.state === JobState.Submitted &&
          now - Date.parse(job.stateChangedAt) > deps.settings.runnableTimeoutMs
        ) {
          if (await repairRunnableTimeout(deps, job, executorJob)) summary.runnableTimedOut++;
          return;
        }
        if (executorJob) {
          const outcome = await applyExecutorUpdate(deps, executorJob);
          if (outcome.kind === 'changed') {
            summary.refreshed++;
            await recordRepair(deps, RepairKind.AppliedLostStateChange, {
              jobId: job.id,
              detail: `executor job ${executorJob.executorJobId} is ${executorJob.status}; ${outcome.from} → ${outcome.to}`,
            });
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
          await recordRepair(deps, RepairKind.FailedLostExecutorJob, {
            jobId: job.id,
            detail: `executor job ${lostUpdate.executorJobId} not found; ${outcome.from} → ${outcome.to}`,
          });
        }
      });
    }
  }

  for (const job of await deps.store.jobsInStateSince(JobState.RetryWait, new Date(now), PAGE)) {
    await guard(job, async () => {
      // Its release message is due at retryAt: give it the same grace as effects before calling it lost.
      if (job.retryAt && Date.parse(job.retryAt) > now - (deps.settings.effectsGraceMs ?? 60_000)) return;
      const released = await releaseRetry(deps, job.id);
      if (released?.state === JobState.Queued) {
        summary.retriesReleased++;
        await recordRepair(deps, RepairKind.ReleasedRetry, {
          jobId: job.id,
          detail: `retry was due at ${job.retryAt ?? 'once'}; its release message was lost`,
        });
      }
    });
  }

  const waitingAfter = deps.settings.waitingCheckMs ?? 60_000;
  for (const job of await deps.store.jobsInStateSince(JobState.Waiting, new Date(now - waitingAfter), PAGE)) {
    await guard(job, async () => {
      const after = await evaluateWaitingJob(deps, job.id);
      if (after && after.state !== JobState.Waiting) {
        summary.waitingResolved++;
        await recordRepair(deps, RepairKind.ResolvedWaiting, {
          jobId: job.id,
          detail: `dependencies had finished; WAITING → ${after.state}`,
        });
      }
    });
  }

  for (const state of [JobState.Succeeded, JobState.Failed, JobState.Cancelled, JobState.Skipped]) {
    // Completion effects a crash cut short. Effects run within seconds of the state write, so only jobs that
    // ended between one hour and `effectsGraceMs` (a minute) ago are looked at.
    const recent = await deps.store.jobsInStateSince(
      state,
      new Date(now - (deps.settings.effectsGraceMs ?? 60_000)),
      1000,
      new Date(now - 3_600_000),
    );
    for (const job of recent.filter((j) => j.effectsPending)) {
      await guard(job, async () => {
        await runCompletionEffects(deps, job);
        summary.effectsCompleted++;
        await recordRepair(deps, RepairKind.CompletedEffects, {
          jobId: job.id,
          detail: `${job.state} since ${job.stateChangedAt}; slot, event and dependents completed`,
        });
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
      await recordRepair(deps, RepairKind.CorrectedSlotCounter, {
        detail: `queue ${queue.name}: ${usage.used} → ${active}`,
      });
    }
  }
  return corrected;
}

/**
 * A job whose executor job waits for compute (RUNNABLE) past the limit: noted once per attempt (`alert`), or
 * terminated and failed through the retry policy (`fail`: the late FAILED event of the terminated job is stale by
 * then). @returns true when something was done.
 */
async function repairRunnableTimeout(
  deps: OffpeakDeps,
  job: Job,
  executorJob: ExecutorJob,
): Promise<boolean> {
  const minutes = Math.round(deps.settings.runnableTimeoutMs / 60_000);
  const tag = `attempt ${job.attempt}:`;
  const reason = `RUNNABLE for more than ${minutes} min (no compute to run it)`;
  if (deps.settings.runnableTimeoutAction === 'alert') {
    if (
      (job.repairs ?? []).some((r) => r.repair === RepairKind.RunnableTimeout && r.detail?.startsWith(tag))
    ) {
      return false;
    }
    await recordRepair(deps, RepairKind.RunnableTimeout, {
      jobId: job.id,
      detail: `${tag} executor job ${executorJob.executorJobId} ${reason}; alerted (runnableTimeoutAction: alert)`,
    });
    return true;
  }
  await deps.executor.terminate(executorJob.executorJobId, `Offpeak: ${reason}`);
  const outcome = await applyExecutorUpdate(deps, {
    ...executorJob,
    status: ExecutorStatus.Failed,
    statusReason: `OffpeakRunnableTimeout: ${reason}`,
  });
  if (outcome.kind !== 'changed') return false;
  await recordRepair(deps, RepairKind.RunnableTimeout, {
    jobId: job.id,
    detail: `${tag} executor job ${executorJob.executorJobId} ${reason}; terminated, ${outcome.from} → ${outcome.to}`,
  });
  return true;
}

async function allInState(deps: OffpeakDeps, state: JobState): Promise<Job[]> {
  // Active jobs are bounded by the queues' concurrency limits, so reading them all is cheap. (The bound is a
  // four-digit year on purpose: index keys are ISO strings, and a six-digit year would sort before them.)
  return deps.store.jobsInStateSince(state, END_OF_TIME, 10_000);
}
