import { type OffpeakEvent, OffpeakEventType } from '../../ports/event-bus.js';
import { CrashPoint, crashPoint } from '../crash-point.js';
import type { OffpeakDeps } from '../deps.js';
import type { Job } from '../job.js';
import { patchJob } from '../job.js';
import { isTerminal, JobState } from '../job-state.js';
import { recordJobDeadLetter } from './dead-letters.js';
import { resolveDependents } from './dependencies.js';
import { queueSlotCounter } from './slots.js';
import { updateJobWith } from './update-job.js';

/** SQS's longest message delay; longer retry waits are re-armed by the reconciler. */
export const MAX_DELAY_SECONDS = 900;

const eventTypeByState: Partial<Record<JobState, OffpeakEventType>> = {
  [JobState.Succeeded]: OffpeakEventType.JobSucceeded,
  [JobState.Failed]: OffpeakEventType.JobFailed,
  [JobState.Cancelled]: OffpeakEventType.JobCancelled,
  [JobState.Skipped]: OffpeakEventType.JobSkipped,
  [JobState.RetryWait]: OffpeakEventType.JobRetrying,
};

/**
 * Marks a job whose next state has effects to run (terminal or RETRY_WAIT): the slot it held must be returned and
 * the effects are pending. Use on the patch of the transition that makes them due.
 */
export function completionPatch(job: Job): Pick<Job, 'holdsSlot' | 'effectsPending' | 'slotReleasePending'> {
  return {
    holdsSlot: false,
    effectsPending: true,
    slotReleasePending: job.holdsSlot || job.slotReleasePending === true,
  };
}

/**
 * Runs the effects of a job's arrival in a terminal state or RETRY_WAIT, then clears `effectsPending`.
 * Safe to run again (a redelivered message, the reconciler): each effect is idempotent or harmless twice, and the
 * slot release happens once (see `releaseOwnedSlot`).
 */
export async function runCompletionEffects(deps: OffpeakDeps, job: Job): Promise<Job> {
  if (!job.effectsPending) return job;
  if (job.slotReleasePending) await releaseOwnedSlot(deps, job);
  crashPoint(deps, CrashPoint.EffectsAfterSlotRelease);
  // Reliability (issue 6): a job that failed for good is dead-lettered, with its context, before anything else
  // learns of the failure; recording is idempotent (one dead letter per job and attempt).
  const deadLetterId = job.state === JobState.Failed ? (await recordJobDeadLetter(deps, job)).id : undefined;

  const detailType = eventTypeByState[job.state];
  if (detailType) await deps.events.publish([jobEvent(detailType, job)]);

  if (job.state === JobState.RetryWait && job.retryAt) {
    const delayMs = Date.parse(job.retryAt) - deps.clock.now().getTime();
    await deps.dispatchQueue.send(
      { kind: 'retry-release', jobId: job.id },
      { delaySeconds: clampDelaySeconds(delayMs) },
    );
  }
  if (isTerminal(job.state)) await resolveDependents(deps, job);
  // A slot came free (or a dependent was released): let the dispatcher fill it now rather than at its next tick.
  await deps.dispatchQueue.send({ kind: 'nudge', queue: job.queue });

  crashPoint(deps, CrashPoint.EffectsBeforeClear);
  const outcome = await updateJobWith(deps, job.id, (current) =>
    current.effectsPending && current.state === job.state
      ? patchJob(current, deps.clock.now(), {
          effectsPending: false,
          slotReleasePending: false,
          ...(deadLetterId ? { deadLetterId } : {}),
        })
      : undefined,
  );
  deps.log.info('Completion effects done', { jobId: job.id, state: job.state });
  return outcome.changed ? outcome.after : outcome.job;
}

/**
 * Returns the slot a job gave up, exactly once: the release is claimed by a conditional write that clears
 * `slotReleasePending`, so two writers that both see it pending (these effects and a retry release, say) never
 * both give it back. A crash between the claim and the release leaves the slot taken (never over-admits) until the
 * reconciler's recount gives it back.
 */
async function releaseOwnedSlot(deps: OffpeakDeps, job: Job): Promise<void> {
  const claim = await updateJobWith(deps, job.id, (current) =>
    current.slotReleasePending
      ? patchJob(current, deps.clock.now(), { slotReleasePending: false })
      : undefined,
  );
  if (claim.changed) await deps.store.releaseSlot(queueSlotCounter(job.queue));
}

export function clampDelaySeconds(delayMs: number): number {
  return Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.ceil(delayMs / 1000)));
}

/** The event published for a job: a summary, small enough for EventBridge's 256 KB limit. */
export function jobEvent(detailType: OffpeakEventType, job: Job): OffpeakEvent {
  return {
    detailType,
    resources: [job.id],
    detail: {
      jobId: job.id,
      type: job.type,
      queue: job.queue,
      state: job.state,
      attempt: job.attempt,
      maxAttempts: job.maxAttempts,
      trigger: job.trigger,
      ...(job.idempotencyKey ? { idempotencyKey: job.idempotencyKey } : {}),
      ...(job.exitCode !== undefined ? { exitCode: job.exitCode } : {}),
      ...(job.statusReason ? { statusReason: job.statusReason } : {}),
      ...(job.error ? { error: job.error } : {}),
      ...(job.retryAt ? { retryAt: job.retryAt } : {}),
      ...(job.outputUri ? { outputUri: job.outputUri } : {}),
      createdAt: job.createdAt,
      ...(job.finishedAt ? { finishedAt: job.finishedAt } : {}),
    },
  };
}
