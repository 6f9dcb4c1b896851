import { type OffpeakEvent, OffpeakEventType } from '../../ports/event-bus.js';
import { backoffDelayMs } from '../backoff.js';
import { CrashPoint, crashPoint } from '../crash-point.js';
import type { OffpeakDeps } from '../deps.js';
import { ErrorKind, errorKindOf } from '../errors.js';
import type { Job, SlotClaim } from '../job.js';
import { patchJob } from '../job.js';
import { isTerminal, JobState } from '../job-state.js';
import type { FollowUp } from '../job-type.js';
import { outputLocation } from '../output-location.js';
import { slotsOf } from '../slot-plan.js';
import { recordJobDeadLetter } from './dead-letters.js';
import { resolveDependents } from './dependencies.js';
import { resourceSlotCounter } from './slots.js';
import { submitJob } from './submit.js';
import { updateJobWith } from './update-job.js';

/** SQS's longest message delay; longer retry waits are re-armed by the reconciler. */
export const MAX_DELAY_SECONDS = 900;

/**
 * The writer of a state change runs its effects at once; another caller finds them pending only after this long,
 * when that writer has surely finished or died. Concurrent duplicates of an event then do not publish it again.
 */
export const EFFECTS_GRACE_MS = 30_000;

/** True when a job's pending effects are overdue: their writer crashed (or they are not pending). */
export function effectsOverdue(
  job: Pick<Job, 'effectsPending' | 'stateChangedAt' | 'updatedAt'>,
  now: Date,
): boolean {
  return job.effectsPending === true && now.getTime() - Date.parse(job.updatedAt) >= EFFECTS_GRACE_MS;
}

const eventTypeByState: Partial<Record<JobState, OffpeakEventType>> = {
  [JobState.Succeeded]: OffpeakEventType.JobSucceeded,
  [JobState.Failed]: OffpeakEventType.JobFailed,
  [JobState.Cancelled]: OffpeakEventType.JobCancelled,
  [JobState.Skipped]: OffpeakEventType.JobSkipped,
  [JobState.RetryWait]: OffpeakEventType.JobRetrying,
};

/**
 * Marks a job whose next state has effects to run (terminal or RETRY_WAIT): the slots it held must be returned and
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
 * Runs the effects of a job's arrival in a terminal state or RETRY_WAIT, then clears `effectsPending`: its slots go
 * back (exactly once, see `releaseOwnedSlots`), a final failure is dead-lettered, its event is published, a retry is
 * scheduled, follow-up jobs are submitted, dependents are released or skipped, and the dispatcher is woken for every
 * queue the freed slots may unblock. Safe to run again (a redelivered message, the reconciler): each effect is
 * idempotent or harmless twice.
 */
export async function runCompletionEffects(deps: OffpeakDeps, job: Job): Promise<Job> {
  if (!job.effectsPending) return job;
  const released = job.slotReleasePending ? await releaseOwnedSlots(deps, job) : [];
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
  await submitFollowUps(deps, job);
  if (isTerminal(job.state)) await resolveDependents(deps, job);
  // Slots came free (or a dependent was released): let the dispatcher fill them now rather than at its next tick.
  for (const queue of queuesToWake(deps, job, released)) {
    await deps.dispatchQueue.send({ kind: 'nudge', queue });
  }

  crashPoint(deps, CrashPoint.EffectsBeforeClear);
  const outcome = await updateJobWith(
    deps,
    job.id,
    (current) =>
      current.effectsPending && current.state === job.state
        ? patchJob(current, deps.clock.now(), {
            effectsPending: false,
            slotReleasePending: false,
            ...(deadLetterId ? { deadLetterId } : {}),
          })
        : undefined,
    // Usually still the version the effects started from; if not, the conditional write re-reads.
    job,
  );
  deps.log.info('Completion effects done', { jobId: job.id, state: job.state });
  return outcome.changed ? outcome.after : outcome.job;
}

/**
 * Returns the slots a job gave up, exactly once: the release is claimed by a conditional write that clears
 * `slotReleasePending`, so two writers that both see it pending (these effects run twice, or beside a retry release)
 * never both give them back. A crash between the claim and the release leaves the slots taken (never over-admits)
 * until the reconciler's recount gives them back. @returns what was given back.
 */
async function releaseOwnedSlots(deps: OffpeakDeps, job: Job): Promise<SlotClaim[]> {
  const claim = await updateJobWith(
    deps,
    job.id,
    (current) =>
      current.slotReleasePending
        ? patchJob(current, deps.clock.now(), { slotReleasePending: false })
        : undefined,
    job,
  );
  return claim.changed ? releaseSlotsOf(deps, claim.before) : [];
}

/** Attempts of one counter release before it is left to the reconciler's recount. */
const RELEASE_ATTEMPTS = 5;
const RELEASE_BACKOFF = { baseMs: 50, capMs: 1_000 } as const;

/**
 * Gives back every slot the job holds, latest level first. The caller owns the release (it cleared
 * `slotReleasePending`), so a transient failure (throttling) is retried here rather than by redelivery, which would
 * find nothing left to release: with the claim's token a repeated release is ignored by the store, so a retry after
 * a call that did land cannot give the units back twice. @returns what was given back.
 */
export async function releaseSlotsOf(
  deps: Pick<OffpeakDeps, 'store'>,
  job: Pick<Job, 'slots' | 'queue' | 'slotToken'>,
): Promise<SlotClaim[]> {
  const slots = slotsOf(job);
  for (const slot of [...slots].reverse()) {
    for (let attempt = 1; ; attempt++) {
      try {
        await deps.store.releaseSlot(slot.counter, slot.units, job.slotToken);
        break;
      } catch (error) {
        const retryable = job.slotToken !== undefined && errorKindOf(error) === ErrorKind.Retryable;
        if (!retryable || attempt >= RELEASE_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, backoffDelayMs(RELEASE_BACKOFF, attempt)));
      }
    }
  }
  return slots;
}

/** The job's queue, and every queue whose job types share a resource the job gave back. */
function queuesToWake(deps: OffpeakDeps, job: Job, released: readonly SlotClaim[]): string[] {
  const queues = new Set([job.queue]);
  for (const resource of deps.catalog.resources()) {
    if (!released.some((s) => s.counter === resourceSlotCounter(resource.name))) continue;
    for (const type of deps.catalog.jobTypesUsing(resource.name)) queues.add(type.queue);
  }
  return [...queues];
}

/**
 * Submits the job type's `onSuccess` / `onFailure` jobs, each at most once: its idempotency key derives from the
 * finished job's id, so a repeated run of the effects finds the job it already made.
 */
async function submitFollowUps(deps: OffpeakDeps, job: Job): Promise<void> {
  const kind =
    job.state === JobState.Succeeded ? 'onSuccess' : job.state === JobState.Failed ? 'onFailure' : undefined;
  if (!kind) return;
  // A job type removed from the catalog since the job ran has no follow-ups any more.
  const type = deps.catalog.jobTypes().find((t) => t.name === job.type);
  const followUps: readonly FollowUp[] = type?.[kind] ?? [];
  for (const [index, followUp] of followUps.entries()) {
    const { job: next, created } = await submitJob(
      deps,
      {
        type: followUp.type,
        params: followUp.params,
        dependsOn: [],
        idempotencyKey: `followup:${job.id}:${kind}:${index}`,
        ...(followUp.priority !== undefined ? { priority: followUp.priority } : {}),
      },
      { kind: 'event', source: `job:${job.id}` },
      { input: { kind: 'prefix', uri: outputLocation(job, deps.settings) } },
    );
    if (created) deps.log.info('Follow-up job submitted', { jobId: job.id, followUpJobId: next.id, kind });
  }
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
      ...(job.pipelineId ? { pipelineId: job.pipelineId, stepId: job.stepId } : {}),
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
