import type { ExecutorJob } from '../../ports/executor.js';
import { ExecutorStatus } from '../../ports/executor.js';
import type { OffpeakDeps } from '../deps.js';
import { serializeError } from '../errors.js';
import type { Job } from '../job.js';
import { patchJob, transitionJob } from '../job.js';
import { executorJobName } from '../job-name.js';
import { activeStates, isTerminal, JobState, terminalStates } from '../job-state.js';
import { EffectiveLimits } from '../limits.js';
import { slotPlan, slotsOf } from '../slot-plan.js';
import { cancelJob } from './cancel.js';
import { evaluateWaitingJob } from './dependencies.js';
import { cancelWhileSubmitting, releaseRetry } from './dispatch.js';
import { runCompletionEffects } from './effects.js';
import { completePipelineCreation } from './pipelines.js';
import { RepairKind, recordRepair } from './repairs.js';
import { queueSlotCounter, resourceSlotCounter, typeSlotCounter } from './slots.js';
import { failStuckQueuedJob, failStuckRunnableJob, raiseQueueStuck } from './stuck.js';
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
  /** Slot counters corrected to what their holders hold. */
  countersCorrected: number;
  /** Jobs failed for waiting longer than their queue allows (QUEUED, or RUNNABLE at the executor). */
  stuckFailed: number;
  /** `Queue Stuck` alerts raised. */
  stuckAlerts: number;
  /** Pipelines whose creation a crash had cut short, finished. */
  pipelinesCompleted: number;
  /**
   * Jobs of queues without `maxRunnableSeconds` whose executor job was RUNNABLE past the stack-wide
   * `runnableTimeoutMs` (noted, or failed, per `runnableTimeoutAction`).
   */
  runnableTimedOut: number;
  errors: number;
}

/** Executor statuses of a job that was accepted but has not started. */
const notStartedStatuses: ReadonlySet<string> = new Set([
  ExecutorStatus.Submitted,
  ExecutorStatus.Pending,
  ExecutorStatus.Runnable,
]);

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
    stuckFailed: 0,
    stuckAlerts: 0,
    pipelinesCompleted: 0,
    runnableTimedOut: 0,
    errors: 0,
  };
  const limits = new EffectiveLimits(deps.catalog, await deps.scheduling.limitOverrides());
  /** Counters this pass touched a holder of: recounted even when the catalog does not name them. */
  const touched = new Set<string>();
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
      // Which of its slots the dispatcher took before it died is unknown: none is given back here (that could
      // return one never taken); the recount below returns the ones that were.
      const released = {
        holdsSlot: false,
        slotReleasePending: false,
        slots: undefined,
        slotToken: undefined,
      };
      const outcome = await updateJobWith(deps, job.id, (current) =>
        current.state !== JobState.Submitting || current.version !== job.version
          ? undefined
          : current.cancelRequested
            ? cancelWhileSubmitting(current, deps.clock.now(), released)
            : transitionJob(
                current,
                JobState.Queued,
                deps.clock.now(),
                released,
                'reconciler: submit never reached the executor',
              ),
      );
      if (outcome.changed) {
        for (const slot of slotsOf(job)) touched.add(slot.counter);
        summary.requeued++;
        const cancelled = outcome.after.state === JobState.Cancelled;
        if (cancelled) await runCompletionEffects(deps, outcome.after);
        await recordRepair(deps, RepairKind.RequeuedStuckSubmit, {
          jobId: job.id,
          detail: cancelled
            ? `SUBMITTING since ${job.stateChangedAt} with a cancel requested; cancelled`
            : `SUBMITTING since ${job.stateChangedAt}; the executor has no job of that name`,
        });
      }
    });
  }

  const stuckRunnable: Job[] = [];
  for (const state of [JobState.Submitted, JobState.Running]) {
    const stale = await deps.store.jobsInStateSince(state, new Date(now - deps.settings.staleActiveMs), PAGE);
    const ids = stale.map((j) => j.executorJobId).filter((id): id is string => id !== undefined);
    const described = new Map(
      (ids.length > 0 ? await deps.executor.describe(ids) : []).map((e) => [e.executorJobId, e]),
    );
    for (const job of stale) {
      await guard(job, async () => {
        const executorJob = job.executorJobId ? described.get(job.executorJobId) : undefined;
        const maxRunnableSeconds = deps.catalog.findQueue(job.queue)?.maxRunnableSeconds;
        if (
          maxRunnableSeconds === undefined &&
          executorJob?.status === ExecutorStatus.Runnable &&
          job.state === JobState.Submitted &&
          now - Date.parse(job.stateChangedAt) > deps.settings.runnableTimeoutMs
        ) {
          // A queue without its own limit: the stack-wide one (docs/reliability.md).
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
            return;
          }
          const submittedAt = Date.parse(
            job.attempts.find((a) => a.attempt === job.attempt)?.submittedAt ?? job.stateChangedAt,
          );
          if (
            job.state === JobState.Submitted &&
            notStartedStatuses.has(executorJob.status) &&
            maxRunnableSeconds !== undefined &&
            now - submittedAt > maxRunnableSeconds * 1000
          ) {
            stuckRunnable.push(job);
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

  for (const [queue, jobs] of groupByQueue(stuckRunnable)) {
    const spec = deps.catalog.queue(queue);
    if (spec.onStuck === 'fail') {
      for (const job of jobs) {
        await guard(job, async () => {
          if (await failStuckRunnableJob(deps, job)) summary.stuckFailed++;
        });
      }
    } else if (await raiseQueueStuck(deps, spec, 'RUNNABLE', jobs)) {
      summary.stuckAlerts++;
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

  // Jobs that ended within the last hour: effects a crash cut short, and slots a dispatcher that died during a
  // cancel never gave back. Effects run within seconds of the state write, so only jobs older than a minute are due.
  const recent: Job[] = [];
  for (const state of terminalStates) {
    recent.push(
      ...(await deps.store.jobsInStateSince(state, new Date(now), 1000, new Date(now - 3_600_000))),
    );
  }
  for (const job of recent) {
    if (Date.parse(job.stateChangedAt) > now - (deps.settings.effectsGraceMs ?? 60_000)) continue;
    if (job.effectsPending) {
      await guard(job, async () => {
        await runCompletionEffects(deps, job);
        summary.effectsCompleted++;
        await recordRepair(deps, RepairKind.CompletedEffects, {
          jobId: job.id,
          detail: `${job.state} since ${job.stateChangedAt}; slots, event and dependents completed`,
        });
      });
    }
    if (job.holdsSlot && Date.parse(job.stateChangedAt) < now - deps.settings.submittingTimeoutMs) {
      await guard(job, async () => {
        const outcome = await updateJobWith(deps, job.id, (current) =>
          current.holdsSlot && current.slotToken === job.slotToken && terminalStates.has(current.state)
            ? patchJob(current, deps.clock.now(), { holdsSlot: false })
            : undefined,
        );
        if (outcome.changed) {
          for (const slot of slotsOf(job)) touched.add(slot.counter);
          deps.log.warn('Reconciler cleared the slots of a job cancelled while it was being submitted', {
            jobId: job.id,
          });
        }
      });
    }
  }

  const queued = await stuckQueuedCheck(deps, limits, summary, guard);

  for (const pipeline of await deps.scheduling.unfinishedPipelines(new Date(now - 60_000), PAGE)) {
    try {
      await completePipelineCreation(deps, pipeline);
      summary.pipelinesCompleted++;
      deps.log.warn('Reconciler finished creating a pipeline', { pipelineId: pipeline.id });
    } catch (error) {
      summary.errors++;
      deps.log.error('Reconciler could not finish a pipeline', {
        pipelineId: pipeline.id,
        error: serializeError(error),
      });
    }
  }

  // Key counters are not in the catalog: the ones jobs wait on are recounted too, so a leaked key slot cannot block
  // its key for good.
  for (const job of queued) {
    const type = deps.catalog.jobTypes().find((t) => t.name === job.type);
    if (type) for (const slot of slotPlan(job, type, limits)) touched.add(slot.counter);
  }
  summary.countersCorrected = await recountSlots(deps, [...touched]);
  return summary;
}

/** Stuck-queue protection for QUEUED jobs. @returns the oldest waiting jobs it looked at. */
async function stuckQueuedCheck(
  deps: OffpeakDeps,
  limits: EffectiveLimits,
  summary: ReconcileSummary,
  guard: (job: Job, repair: () => Promise<void>) => Promise<void>,
): Promise<Job[]> {
  const now = deps.clock.now().getTime();
  const limited = deps.catalog
    .queues()
    .filter((q) => q.maxQueuedSeconds !== undefined && !limits.queuePaused(q.name));
  const minWaitMs = Math.min(60_000, ...limited.map((q) => (q.maxQueuedSeconds ?? 0) * 1000));
  // The oldest waiting jobs (across queues): what the stuck check and the key-counter recount look at.
  const oldest = await deps.store.jobsInStateSince(JobState.Queued, new Date(now - minWaitMs), 1000);
  for (const spec of limited) {
    const cutoff = now - (spec.maxQueuedSeconds ?? 0) * 1000;
    const stuck = oldest.filter((j) => j.queue === spec.name && Date.parse(j.stateChangedAt) <= cutoff);
    if (stuck.length === 0) continue;
    if (spec.onStuck === 'fail') {
      for (const job of stuck.slice(0, PAGE)) {
        await guard(job, async () => {
          if (await failStuckQueuedJob(deps, job)) summary.stuckFailed++;
        });
      }
    } else if (await raiseQueueStuck(deps, spec, 'QUEUED', stuck)) {
      summary.stuckAlerts++;
    }
  }
  return oldest;
}

function groupByQueue(jobs: readonly Job[]): Map<string, Job[]> {
  const groups = new Map<string, Job[]>();
  for (const job of jobs) groups.set(job.queue, [...(groups.get(job.queue) ?? []), job]);
  return groups;
}

/**
 * Sets each concurrency counter to the units its holders hold, when the counter has been still for
 * `slotRecountSettleMs` and did not change while counting (its version). Counters named by the catalog (queues, job
 * types, resources) are always recounted; `extra` adds others (key counters).
 *
 * The holders are the jobs in SUBMITTING, SUBMITTED or RUNNING with `holdsSlot`, and the jobs (RETRY_WAIT, or
 * ended within the hour) whose release is still pending. A job becomes a holder (its claim
 * records its slots) before any counter moves and stops being one only when its slots are given back or about to be,
 * by the one process that knows what it took; the settle time (longer than any Lambda run) ensures that no such
 * acquire or release is in flight and that the job index has caught up. So a correction only returns units nobody
 * holds (a crash between a write and the next) or restores ones a counter lost; a counter that never stays still
 * (a busy queue) is corrected when it does.
 */
export async function recountSlots(deps: OffpeakDeps, extra: readonly string[] = []): Promise<number> {
  const now = deps.clock.now().getTime();
  const held = new Map<string, number>();
  const hold = (job: Job) => {
    for (const slot of slotsOf(job)) held.set(slot.counter, (held.get(slot.counter) ?? 0) + slot.units);
  };
  for (const state of activeStates) {
    for (const job of await allInState(deps, state)) if (job.holdsSlot) hold(job);
  }
  // A job that gave its slots up but whose release nobody has claimed yet (`slotReleasePending`: its effects were
  // cut short) still holds them: whoever claims the release gives them back, so counting them out here would
  // give them back twice.
  for (const state of [...terminalStates, JobState.RetryWait]) {
    for (const job of await deps.store.jobsInStateSince(
      state,
      END_OF_TIME,
      1000,
      new Date(now - 3_600_000),
    )) {
      if (job.slotReleasePending) hold(job);
    }
  }
  const counters = new Set<string>([
    ...deps.catalog.queues().map((q) => queueSlotCounter(q.name)),
    ...deps.catalog
      .jobTypes()
      .filter((t) => t.concurrency !== undefined)
      .map((t) => typeSlotCounter(t.name)),
    ...deps.catalog.resources().map((r) => resourceSlotCounter(r.name)),
    ...held.keys(),
    ...extra,
  ]);
  let corrected = 0;
  for (const counter of counters) {
    const usage = await deps.store.slotUsage(counter);
    const expected = held.get(counter) ?? 0;
    if (expected === usage.used) continue;
    if (
      usage.changedAt !== undefined &&
      Date.parse(usage.changedAt) > now - deps.settings.slotRecountSettleMs
    ) {
      continue;
    }
    if (await deps.store.resetSlots(counter, expected, usage.version)) {
      corrected++;
      await recordRepair(deps, RepairKind.CorrectedSlotCounter, {
        detail: `${counter}: ${usage.used} → ${expected}`,
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
