import type { ExecutorJob } from '../../ports/executor.js';
import { ExecutorStatus } from '../../ports/executor.js';
import { CrashPoint, crashPoint } from '../crash-point.js';
import type { OffpeakDeps } from '../deps.js';
import { ErrorKind, errorKindOf } from '../errors.js';
import type { Job } from '../job.js';
import { attemptInSeries, transitionJob, withAttempt } from '../job.js';
import { jobIdFromExecutorName } from '../job-name.js';
import { isTerminal, JobState } from '../job-state.js';
import type { RetryMarker } from '../retry-marker.js';
import { decideRetry } from '../retry-policy.js';
import { applyChildUpdates, applyRunUpdate, isRunJob } from './chunk-track.js';
import { completionPatch, effectsOverdue, runCompletionEffects } from './effects.js';
import { updateJobWith } from './update-job.js';

/** What the tracker did with one executor update. */
export type TrackOutcome =
  | { readonly kind: 'ignored'; readonly reason: string; readonly jobId?: string }
  | { readonly kind: 'unchanged'; readonly jobId: string; readonly state: JobState }
  | { readonly kind: 'changed'; readonly jobId: string; readonly from: JobState; readonly to: JobState };

/** Executor statuses that mean "accepted, not yet running". */
const waitingStatuses: ReadonlySet<string> = new Set([
  ExecutorStatus.Submitted,
  ExecutorStatus.Pending,
  ExecutorStatus.Runnable,
  ExecutorStatus.Starting,
]);

/**
 * Applies an executor state change (a Batch "Job State Change" event, or a DescribeJobs result from the
 * reconciler) to its job through the transition table. Duplicated, late and out-of-order updates are harmless:
 * an update for another attempt's executor job, or one that the table does not allow from the current state, is
 * ignored; an update that moves the job forward may skip states (SUBMITTING → RUNNING when events were lost).
 */
export async function applyExecutorUpdate(
  deps: OffpeakDeps,
  update: ExecutorJob,
  random: () => number = Math.random,
): Promise<TrackOutcome> {
  const jobId = jobIdFromExecutorName(update.jobName);
  if (!jobId) return { kind: 'ignored', reason: `not an Offpeak job name: ${update.jobName}` };
  if (update.arrayIndex !== undefined) {
    // Chunks and packs (issue 5): children are counted per chunk; the tracker Lambda batches them per job.
    const result = await applyChildUpdates(deps, [update]);
    if (result.failed[0]) throw result.failed[0].error;
    return { kind: 'ignored', jobId, reason: 'array child; counted on its job' };
  }
  const stored = await deps.store.getJob(jobId);
  if (!stored) return { kind: 'ignored', jobId, reason: 'unknown job' };
  if (isRunJob(stored) || isChunkedOrPackedType(deps, stored.type)) {
    return applyRunUpdate(deps, stored, update, random);
  }
  const retryMarker = await readRetryMarker(deps, stored, update);

  let from: JobState = stored.state;
  const outcome = await updateJobWith(
    deps,
    jobId,
    (job) => {
      from = job.state;
      return nextJob(deps, job, retryMarker ? { ...update, retryMarker } : update, random);
    },
    stored,
  ).catch((error: unknown) => {
    if (errorKindOf(error) === ErrorKind.NotFound) return undefined;
    throw error;
  });
  if (!outcome) return { kind: 'ignored', jobId, reason: 'unknown job' };
  if (!outcome.changed) {
    // A redelivered terminal event: finish what a crash cut short (the slots are the writer's to return). A
    // duplicate that arrives while the writer is still at it leaves the effects to that writer.
    if (effectsOverdue(outcome.job, deps.clock.now())) await runCompletionEffects(deps, outcome.job);
    return { kind: 'unchanged', jobId, state: outcome.job.state };
  }
  const after = outcome.after;
  crashPoint(deps, CrashPoint.TrackAfterWrite);
  deps.log.info('Job state changed', {
    jobId,
    from,
    to: after.state,
    attempt: after.attempt,
    executorJobId: update.executorJobId,
    ...(update.arrayIndex !== undefined ? { chunk: update.arrayIndex } : {}),
    executorStatus: update.status,
    ...(update.exitCode !== undefined ? { exitCode: update.exitCode } : {}),
  });
  if (after.effectsPending) await runCompletionEffects(deps, after);
  return { kind: 'changed', jobId, from, to: after.state };
}

function isChunkedOrPackedType(deps: Pick<OffpeakDeps, 'catalog'>, type: string): boolean {
  try {
    const spec = deps.catalog.jobType(type);
    return spec.chunking !== undefined || spec.packing !== undefined;
  } catch {
    return false;
  }
}

/**
 * The retry marker of the attempt a FAILED update ends, when the job may be retried (see core/retry-marker.ts).
 * A missing marker is not an error; a failed read is (the message is retried, so a requested delay is not lost).
 */
async function readRetryMarker(
  deps: OffpeakDeps,
  job: Job,
  update: ExecutorJob,
): Promise<RetryMarker | undefined> {
  if (!deps.retryMarkers || update.status !== ExecutorStatus.Failed || job.cancelRequested) return undefined;
  const attempt =
    job.state === JobState.Submitting
      ? job.attempt + 1
      : job.state === JobState.Submitted || job.state === JobState.Running
        ? job.attempt
        : undefined;
  if (attempt === undefined) return undefined;
  return deps.retryMarkers.read(job.id, attempt);
}

/** An executor update, with the retry marker its attempt left (when it failed and left one). */
export type TrackedUpdate = ExecutorJob & { readonly retryMarker?: RetryMarker };

/** The pure decision: the next version of `job` after `update`, or undefined for no change. */
export function nextJob(
  deps: Pick<OffpeakDeps, 'clock' | 'catalog'>,
  job: Job,
  update: TrackedUpdate,
  random: () => number = Math.random,
): Job | undefined {
  if (isTerminal(job.state) || job.state === JobState.RetryWait) return undefined;
  if (job.state === JobState.Submitting) {
    // Only an executor job no earlier attempt used can be this attempt's.
    if (job.attempts.some((a) => a.executorJobId === update.executorJobId)) return undefined;
  } else if (job.state === JobState.Submitted || job.state === JobState.Running) {
    // An update about another attempt's executor job is stale.
    if (job.executorJobId !== update.executorJobId) return undefined;
  } else {
    return undefined;
  }
  const now = deps.clock.now();
  // SUBMITTING with no executor id yet: the dispatcher crashed (or is slow) between submit and record; adopt it.
  let current = job;
  if (current.state === JobState.Submitting) {
    const attempt = current.attempt + 1;
    current = transitionJob(
      current,
      JobState.Submitted,
      now,
      {
        attempt,
        executorJobId: update.executorJobId,
        attempts: withAttempt(current, { attempt, executorJobId: update.executorJobId }),
      },
      'executor job adopted from its state change',
    );
  }
  const attempt = current.attempt;
  const attemptRecord = {
    attempt,
    executorJobId: update.executorJobId,
    ...(update.startedAt ? { startedAt: update.startedAt.toISOString() } : {}),
    ...(update.stoppedAt ? { stoppedAt: update.stoppedAt.toISOString() } : {}),
    ...(update.exitCode !== undefined ? { exitCode: update.exitCode } : {}),
    ...(update.statusReason ? { statusReason: update.statusReason } : {}),
    ...(update.logStream ? { logStream: update.logStream } : {}),
  };

  if (waitingStatuses.has(update.status)) return current === job ? undefined : current;

  if (update.status === ExecutorStatus.Running) {
    if (current.state === JobState.Running) return current === job ? undefined : current;
    return transitionJob(current, JobState.Running, now, { attempts: withAttempt(current, attemptRecord) });
  }

  const finished = {
    attempts: withAttempt(current, {
      ...attemptRecord,
      outcome:
        update.status === ExecutorStatus.Succeeded
          ? 'SUCCEEDED'
          : job.cancelRequested
            ? 'CANCELLED'
            : 'FAILED',
    }),
    ...(update.exitCode !== undefined ? { exitCode: update.exitCode } : {}),
    ...(update.statusReason ? { statusReason: update.statusReason } : {}),
  } as const;

  if (update.status === ExecutorStatus.Succeeded) {
    return transitionJob(current, JobState.Succeeded, now, { ...finished, ...completionPatch(current) });
  }
  // FAILED
  if (job.cancelRequested) {
    return transitionJob(
      current,
      JobState.Cancelled,
      now,
      { ...finished, ...completionPatch(current) },
      'cancelled',
    );
  }
  const type = deps.catalog.jobType(job.type);
  const decision = decideRetry(
    type.retry,
    {
      // Counted within the attempt series: a retried or redriven job gets the type's attempts again.
      attempt: attemptInSeries(current, attempt),
      ...(update.exitCode !== undefined ? { exitCode: update.exitCode } : {}),
      ...(update.statusReason ? { statusReason: update.statusReason } : {}),
      ...(update.retryMarker
        ? {
            retryAfterSeconds: update.retryMarker.retryAfterSeconds,
            ...(update.retryMarker.reason ? { retryAfterReason: update.retryMarker.reason } : {}),
          }
        : {}),
    },
    random,
  );
  if (decision.kind === 'retry') {
    const retryAt = new Date(now.getTime() + decision.delayMs).toISOString();
    return transitionJob(
      current,
      JobState.RetryWait,
      now,
      { ...finished, ...completionPatch(current), retryAt },
      decision.reason,
    );
  }
  return transitionJob(
    current,
    JobState.Failed,
    now,
    {
      ...finished,
      ...completionPatch(current),
      error: {
        name: 'JobFailed',
        message: update.statusReason ?? `exit code ${update.exitCode ?? 'unknown'}`,
        code: update.exitCode !== undefined ? `ExitCode${update.exitCode}` : 'NoExitCode',
      },
    },
    decision.reason,
  );
}
