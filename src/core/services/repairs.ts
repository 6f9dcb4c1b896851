import type { OffpeakDeps } from '../deps.js';
import { serializeError } from '../errors.js';
import { MAX_REPAIRS, patchJob } from '../job.js';
import { MetricDimension, MetricName } from '../observability/metrics.js';
import { updateJobWith } from './update-job.js';

/** What the reconciler repairs (the `Repair` dimension of the `ReconcilerRepairs` metric). */
export const RepairKind = {
  /** A SUBMITTING job's executor job was found by name and recorded (the dispatcher died after submitting). */
  AdoptedExecutorJob: 'adopted-executor-job',
  /** A SUBMITTING job the executor never got went back to the queue. */
  RequeuedStuckSubmit: 'requeued-stuck-submit',
  /** A SUBMITTED/RUNNING job's lost state change was read from the executor. */
  AppliedLostStateChange: 'applied-lost-state-change',
  /** A SUBMITTED/RUNNING job whose executor job no longer exists was failed through the retry policy. */
  FailedLostExecutorJob: 'failed-lost-executor-job',
  /** A RETRY_WAIT job past its time whose release message was lost went back to the queue. */
  ReleasedRetry: 'released-retry',
  /** A WAITING job whose wake-up was lost was released or skipped. */
  ResolvedWaiting: 'resolved-waiting',
  /** A finished job's completion effects cut short by a crash were run. */
  CompletedEffects: 'completed-effects',
  /** An executor job RUNNABLE past the limit was noted (action `alert`) or failed (action `fail`). */
  RunnableTimeout: 'runnable-timeout',
  /** A queue's slot counter was set to the number of jobs holding a slot. */
  CorrectedSlotCounter: 'corrected-slot-counter',
} as const;
export type RepairKind = (typeof RepairKind)[keyof typeof RepairKind];

/**
 * Records one repair: as the `ReconcilerRepairs` metric (service-wide, and by `Repair`), a warning log line, and, for a job,
 * an entry on its `repairs` (kept to the last {@link MAX_REPAIRS}). The note on the job is best effort: the repair
 * itself is done, and a lost note must not undo or repeat it.
 */
export async function recordRepair(
  deps: OffpeakDeps,
  repair: RepairKind,
  target: { readonly jobId?: string; readonly detail?: string },
): Promise<void> {
  deps.metrics?.record([
    { name: MetricName.ReconcilerRepairs, unit: 'Count', value: 1 },
    {
      name: MetricName.ReconcilerRepairs,
      unit: 'Count',
      value: 1,
      dimensions: { [MetricDimension.Repair]: repair },
    },
  ]);
  deps.log.warn('Reconciler repair', {
    repair,
    ...(target.jobId ? { jobId: target.jobId } : {}),
    ...(target.detail ? { detail: target.detail } : {}),
  });
  const { jobId } = target;
  if (!jobId) return;
  try {
    await updateJobWith(deps, jobId, (job) => {
      const now = deps.clock.now();
      const entry = {
        at: now.toISOString(),
        repair,
        ...(target.detail ? { detail: target.detail.slice(0, 1000) } : {}),
      };
      return patchJob(job, now, { repairs: [...(job.repairs ?? []), entry].slice(-MAX_REPAIRS) });
    });
  } catch (error) {
    deps.log.warn('Could not note a repair on its job', { jobId, repair, error: serializeError(error) });
  }
}
