import { ConflictError } from './errors.js';
import { JobState } from './job-state.js';

const S = JobState;

/**
 * The one transition table every writer goes through. A transition not listed here is a bug or a stale event,
 * never something to write. Self-transitions are not listed: writers treat "already there" as a no-op.
 */
export const transitions: Readonly<Record<JobState, readonly JobState[]>> = {
  // Dependencies finish → released; an upstream failure skips it; users may cancel.
  [S.Waiting]: [S.Queued, S.Skipped, S.Cancelled],
  // The dispatcher claims it (SUBMITTING) or a user cancels; the reconciler fails it when it waited longer than its
  // queue allows (`maxQueuedSeconds` with `onStuck: 'fail'`).
  [S.Queued]: [S.Submitting, S.Cancelled, S.Failed],
  // Submit recorded (SUBMITTED); no slot or a transient submit error puts it back (QUEUED);
  // a permanent submit error fails it; a cancel may arrive mid-submit.
  [S.Submitting]: [S.Submitted, S.Queued, S.Failed, S.Cancelled],
  // Batch reports progress or an outcome; events may skip RUNNING when they are lost or late.
  [S.Submitted]: [S.Running, S.Succeeded, S.Failed, S.RetryWait, S.Cancelled, S.Queued],
  [S.Running]: [S.Succeeded, S.Failed, S.RetryWait, S.Cancelled],
  // Backoff over: back in the queue; or cancelled while waiting.
  [S.RetryWait]: [S.Queued, S.Cancelled],
  // Terminal: only a retry or redrive revives them, through `retryTransitions`.
  [S.Succeeded]: [],
  [S.Failed]: [],
  [S.Cancelled]: [],
  [S.Skipped]: [],
};

export function canTransition(from: JobState, to: JobState): boolean {
  return transitions[from].includes(to);
}

/** @throws ConflictError `IllegalTransition` when the table does not allow `from → to`. */
export function assertTransition(from: JobState, to: JobState): void {
  if (!canTransition(from, to)) {
    throw new ConflictError('IllegalTransition', `A job cannot go from ${from} to ${to}`, {
      details: { from, to },
    });
  }
}

/**
 * Transitions that only a manual retry (`POST /jobs/{id}/retry`) or a dead-letter redrive may make, through
 * `retryJob`: a finished job back to the queue for a new attempt series (a cancelled job whose dependencies have
 * not all succeeded yet goes back to WAITING). Kept apart from {@link transitions} so that no executor event,
 * reconciler pass or dispatcher can ever revive a finished job: `assertTransition` still refuses them.
 */
export const retryTransitions: Readonly<Partial<Record<JobState, readonly JobState[]>>> = {
  [S.Failed]: [S.Queued],
  [S.Cancelled]: [S.Queued, S.Waiting],
};

export function canRetryTransition(from: JobState, to: JobState): boolean {
  return retryTransitions[from]?.includes(to) ?? false;
}

/** @throws ConflictError `IllegalTransition` when a retry may not go `from → to`. */
export function assertRetryTransition(from: JobState, to: JobState): void {
  if (!canRetryTransition(from, to)) {
    throw new ConflictError('IllegalTransition', `A retry cannot take a job from ${from} to ${to}`, {
      details: { from, to },
    });
  }
}
