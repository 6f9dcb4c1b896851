/** Offpeak's own events, published for users to subscribe to (EventBridge on AWS). */
export const OffpeakEventType = {
  JobSubmitted: 'Job Submitted',
  JobStarted: 'Job Started',
  JobSucceeded: 'Job Succeeded',
  JobFailed: 'Job Failed',
  JobCancelled: 'Job Cancelled',
  JobSkipped: 'Job Skipped',
  JobRetrying: 'Job Retrying',
  /** Jobs of a queue waited longer than it allows (`maxQueuedSeconds`, `maxRunnableSeconds`). */
  QueueStuck: 'Queue Stuck',
} as const;
export type OffpeakEventType = (typeof OffpeakEventType)[keyof typeof OffpeakEventType];

export interface OffpeakEvent {
  readonly detailType: OffpeakEventType;
  /** The job (or a summary of it, or of a queue) as JSON-safe data. */
  readonly detail: Readonly<Record<string, unknown>>;
  /** Resources the event is about (e.g. the job id). */
  readonly resources?: readonly string[];
}

export interface EventBus {
  publish(events: readonly OffpeakEvent[]): Promise<void>;
}
