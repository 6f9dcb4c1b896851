import type { ExecutionHandle } from '../../ports/executor.js';
import { CrashPoint, crashPoint } from '../crash-point.js';
import type { OffpeakDeps } from '../deps.js';
import { ErrorKind, errorKindOf, serializeError } from '../errors.js';
import type { Job, JobPatch } from '../job.js';
import { transitionJob, withAttempt } from '../job.js';
import { jobEnvironment } from '../job-environment.js';
import { executorJobName } from '../job-name.js';
import { JobState } from '../job-state.js';
import { RETRY_MARKER_ENV } from '../retry-marker.js';
import { completionPatch, runCompletionEffects } from './effects.js';
import { queueSlotCounter } from './slots.js';
import { updateJobWith } from './update-job.js';

/** What one dispatch pass over a queue did. */
export interface DispatchSummary {
  readonly queue: string;
  readonly released: number;
  /** True when the pass stopped because the queue's concurrency limit was reached. */
  readonly full: boolean;
  readonly failed: number;
}

/**
 * Admission control (design §1): releases a queue's waiting jobs to the executor in dispatch order while its
 * concurrency limit allows. Correct under any number of concurrent dispatchers: a job is claimed by a conditional
 * write (QUEUED → SUBMITTING) before a slot is taken by a conditional counter update (`used < limit`).
 * Three writes per released job: claim, slot, record.
 */
export async function dispatchQueue(deps: OffpeakDeps, queueName: string): Promise<DispatchSummary> {
  const queue = deps.catalog.queue(queueName);
  let released = 0;
  let failed = 0;
  while (released + failed < deps.settings.dispatchBatchSize) {
    const candidates = await deps.store.queuedJobs(queue.name, Math.min(25, deps.settings.dispatchBatchSize));
    if (candidates.length === 0) break;
    let progressed = false;
    for (const candidate of candidates) {
      const result = await releaseJob(deps, candidate, queue.concurrency);
      if (result === 'full') return { queue: queue.name, released, full: true, failed };
      if (result === 'released') released++;
      if (result === 'failed') failed++;
      if (result !== 'lost') progressed = true;
    }
    // Every candidate was taken by someone else: the index is catching up; the next nudge will see fresh data.
    if (!progressed) break;
  }
  return { queue: queue.name, released, full: false, failed };
}

/** Dispatches every queue of the catalog. */
export async function dispatchAll(deps: OffpeakDeps): Promise<DispatchSummary[]> {
  const summaries: DispatchSummary[] = [];
  for (const queue of deps.catalog.queues()) summaries.push(await dispatchQueue(deps, queue.name));
  return summaries;
}

type ReleaseResult = 'released' | 'lost' | 'full' | 'failed';

async function releaseJob(deps: OffpeakDeps, candidate: Job, limit: number): Promise<ReleaseResult> {
  const claim = await updateJobWith(
    deps,
    candidate.id,
    (job) =>
      job.state === JobState.Queued && job.version === candidate.version
        ? transitionJob(job, JobState.Submitting, deps.clock.now(), { holdsSlot: true })
        : undefined,
    candidate,
  ).catch((error: unknown) => {
    if (errorKindOf(error) === ErrorKind.NotFound) return undefined;
    throw error;
  });
  if (!claim?.changed) return 'lost';
  let job = claim.after;
  crashPoint(deps, CrashPoint.DispatchAfterClaim);

  if (!(await deps.store.acquireSlot(queueSlotCounter(job.queue), limit))) {
    const undone = await updateJobWith(deps, job.id, (current) =>
      current.state !== JobState.Submitting
        ? undefined
        : current.cancelRequested
          ? cancelWhileSubmitting(current, deps.clock.now(), { holdsSlot: false, slotReleasePending: false })
          : transitionJob(current, JobState.Queued, deps.clock.now(), { holdsSlot: false }, 'no free slot'),
    );
    if (undone.changed && undone.after.state === JobState.Cancelled)
      await runCompletionEffects(deps, undone.after);
    return 'full';
  }

  crashPoint(deps, CrashPoint.DispatchAfterSlot);
  // The reconciler re-queues a claim older than submittingTimeoutMs: never submit on a claim that old, or the job
  // could run twice (this pass was slow: throttling, retries). Half the timeout leaves room for the submit itself.
  if (deps.clock.now().getTime() - Date.parse(job.stateChangedAt) > deps.settings.submittingTimeoutMs / 2) {
    const undone = await updateJobWith(deps, job.id, (current) =>
      current.state === JobState.Submitting && current.stateChangedAt === job.stateChangedAt
        ? current.cancelRequested
          ? cancelWhileSubmitting(current, deps.clock.now(), completionPatch(current))
          : transitionJob(current, JobState.Queued, deps.clock.now(), { holdsSlot: false }, 'claim too old')
        : undefined,
    );
    if (undone.changed && undone.after.state === JobState.Cancelled)
      await runCompletionEffects(deps, undone.after);
    else if (undone.changed) await deps.store.releaseSlot(queueSlotCounter(job.queue));
    deps.log.warn('Dispatch claim too old; released for a later pass', { jobId: job.id });
    return 'full';
  }
  const type = deps.catalog.jobType(job.type);
  const attempt = job.attempt + 1;
  let handle: ExecutionHandle;
  try {
    handle = await deps.executor.submit({
      jobId: job.id,
      jobName: executorJobName(job.type, job.id),
      jobType: job.type,
      queue: job.queue,
      attempt,
      environment: {
        ...jobEnvironment(job, attempt),
        // Where the job may ask for a later retry (issue 6: "retry after").
        ...(deps.retryMarkers ? { [RETRY_MARKER_ENV]: deps.retryMarkers.location(job.id, attempt) } : {}),
      },
      timeoutSeconds: type.timeoutSeconds,
      tags: { 'offpeak:jobId': job.id, 'offpeak:jobType': job.type, 'offpeak:attempt': String(attempt) },
    });
  } catch (error) {
    return handleSubmitError(deps, job, error);
  }
  crashPoint(deps, CrashPoint.DispatchAfterSubmit);

  const claimedAt = job.stateChangedAt;
  const recorded = await updateJobWith(deps, job.id, (current) => {
    // Only our own claim is ours to record (the reconciler may have re-queued it and another pass claimed it).
    if (
      current.state !== JobState.Submitting ||
      current.stateChangedAt !== claimedAt ||
      current.executorJobId === handle.executorJobId
    )
      return undefined;
    const now = deps.clock.now();
    if (current.cancelRequested) {
      // Cancelled while we were submitting: we complete it (our slot goes back with the completion effects).
      return cancelWhileSubmitting(current, now, {
        attempt,
        executorJobId: handle.executorJobId,
        attempts: withAttempt(current, {
          attempt,
          executorJobId: handle.executorJobId,
          submittedAt: now.toISOString(),
          outcome: 'CANCELLED',
        }),
        ...completionPatch(current),
      });
    }
    return transitionJob(current, JobState.Submitted, now, {
      attempt,
      executorJobId: handle.executorJobId,
      runSpec: {
        typeVersion: type.version,
        jobDefinition: handle.jobDefinition,
        image: handle.image,
        command: [...handle.command],
      },
      attempts: withAttempt(current, {
        attempt,
        executorJobId: handle.executorJobId,
        submittedAt: now.toISOString(),
      }),
    });
  });
  job = recorded.changed ? recorded.after : recorded.job;
  if (!recorded.changed && job.executorJobId !== handle.executorJobId) {
    // Our claim was taken from us while we submitted: what we submitted must not run beside the job's real attempt.
    await deps.executor.terminate(
      handle.executorJobId,
      'Superseded: the job was claimed again during a slow submit',
    );
    deps.log.warn('Dispatch superseded; its executor job terminated', {
      jobId: job.id,
      executorJobId: handle.executorJobId,
    });
    return 'lost';
  }
  if (job.state === JobState.Cancelled || job.cancelRequested) {
    // Cancelled while we were submitting: the executor job must not run.
    await deps.executor.terminate(handle.executorJobId, 'Cancelled by user during submission');
    if (recorded.changed && job.effectsPending) job = await runCompletionEffects(deps, job);
  }
  deps.log.info('Job released to executor', { jobId: job.id, executorJobId: handle.executorJobId, attempt });
  return 'released';
}

async function handleSubmitError(deps: OffpeakDeps, job: Job, error: unknown): Promise<ReleaseResult> {
  const kind = errorKindOf(error);
  const permanent = kind === ErrorKind.NonRetryable || kind === ErrorKind.Validation;
  deps.log.warn('Executor submit failed', { jobId: job.id, permanent, error: serializeError(error) });
  const outcome = await updateJobWith(deps, job.id, (current) => {
    if (current.state !== JobState.Submitting) return undefined;
    const now = deps.clock.now();
    if (current.cancelRequested) return cancelWhileSubmitting(current, now, completionPatch(current));
    if (permanent) {
      return transitionJob(
        current,
        JobState.Failed,
        now,
        { ...completionPatch(current), error: serializeError(error), statusReason: 'submit failed' },
        'submit failed',
      );
    }
    return transitionJob(
      current,
      JobState.Queued,
      now,
      { holdsSlot: false, slotReleasePending: false },
      'submit failed; will retry',
    );
  });
  if (!outcome.changed) return 'lost';
  if (outcome.after.state === JobState.Cancelled) {
    await runCompletionEffects(deps, outcome.after);
    return 'failed';
  }
  if (permanent) {
    await runCompletionEffects(deps, outcome.after);
    return 'failed';
  }
  await deps.store.releaseSlot(queueSlotCounter(job.queue));
  // Transient (throttling, outage): stop this pass; the job keeps its place and the next pass retries it.
  return 'full';
}

/** SUBMITTING → CANCELLED for a cancel requested while the job was being submitted (see `cancelJob`). */
export function cancelWhileSubmitting(job: Job, now: Date, patch: JobPatch): Job {
  const reason = job.statusReason ?? 'Cancelled by user';
  return transitionJob(
    job,
    JobState.Cancelled,
    now,
    { effectsPending: true, ...patch, statusReason: reason },
    `${reason} (while being submitted)`,
  );
}

/** Re-queues a RETRY_WAIT job whose backoff is over. Returns the job, requeued or not. */
export async function releaseRetry(deps: OffpeakDeps, jobId: string): Promise<Job | undefined> {
  const job = await deps.store.getJob(jobId);
  if (!job || job.state !== JobState.RetryWait) return job;
  const now = deps.clock.now();
  const dueMs = job.retryAt ? Date.parse(job.retryAt) - now.getTime() : 0;
  if (dueMs > 1000) {
    // Longer than one SQS delay: re-arm.
    await deps.dispatchQueue.send(
      { kind: 'retry-release', jobId },
      { delaySeconds: Math.min(900, Math.ceil(dueMs / 1000)) },
    );
    return job;
  }
  const outcome = await updateJobWith(
    deps,
    jobId,
    (current) =>
      current.state === JobState.RetryWait
        ? transitionJob(
            current,
            JobState.Queued,
            now,
            { effectsPending: false, slotReleasePending: false },
            'backoff over',
          )
        : undefined,
    job,
  );
  if (!outcome.changed) return outcome.job;
  crashPoint(deps, CrashPoint.RetryReleaseAfterWrite);
  // Effects of entering RETRY_WAIT that a crash cut short: the slot must still go back.
  if (outcome.before.slotReleasePending) await deps.store.releaseSlot(queueSlotCounter(job.queue));
  await deps.dispatchQueue.send({ kind: 'nudge', queue: job.queue });
  return outcome.after;
}
