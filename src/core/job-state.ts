/** Every state a job can be in (design §2). */
export const JobState = {
  Waiting: 'WAITING',
  Queued: 'QUEUED',
  Submitting: 'SUBMITTING',
  Submitted: 'SUBMITTED',
  Running: 'RUNNING',
  RetryWait: 'RETRY_WAIT',
  Succeeded: 'SUCCEEDED',
  Failed: 'FAILED',
  Cancelled: 'CANCELLED',
  Skipped: 'SKIPPED',
} as const;
export type JobState = (typeof JobState)[keyof typeof JobState];

export const jobStates = Object.values(JobState) as readonly JobState[];

export const terminalStates: ReadonlySet<JobState> = new Set([
  JobState.Succeeded,
  JobState.Failed,
  JobState.Cancelled,
  JobState.Skipped,
]);

/** States in which a job holds a concurrency slot of its queue. */
export const activeStates: ReadonlySet<JobState> = new Set([
  JobState.Submitting,
  JobState.Submitted,
  JobState.Running,
]);

export function isTerminal(state: JobState): boolean {
  return terminalStates.has(state);
}
