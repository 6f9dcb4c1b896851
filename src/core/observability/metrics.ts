/**
 * Offpeak's CloudWatch metrics, by name (namespace `Offpeak`). The core only produces plain data points; the
 * Powertools adapter (Lambda) and the local file sink turn them into EMF.
 */
export const MetricName = {
  JobsSubmitted: 'JobsSubmitted',
  JobsStarted: 'JobsStarted',
  JobsSucceeded: 'JobsSucceeded',
  JobsFailed: 'JobsFailed',
  JobsRetried: 'JobsRetried',
  /** A job that failed for good was recorded as a dead letter (per job type). */
  JobsDeadLettered: 'JobsDeadLettered',
  /** New dead letters, by kind (`job`: a job failed its last attempt; `message`: no consumer could handle it). */
  DeadLetters: 'DeadLetters',
  JobsCancelled: 'JobsCancelled',
  /** Seconds from entering QUEUED to RUNNING. */
  QueueWaitTime: 'QueueWaitTime',
  /** Seconds an attempt ran. */
  RunTime: 'RunTime',
  /** Chunks that finished (succeeded or failed) with a chunked job. */
  ChunksCompleted: 'ChunksCompleted',
  /** Jobs waiting (QUEUED) per queue, published by the monitor pass. */
  QueueDepth: 'QueueDepth',
  /** Age in seconds of the oldest QUEUED job per queue. */
  OldestQueuedAge: 'OldestQueuedAge',
  /** Jobs accepted by the executor but not running (Batch RUNNABLE) for longer than the stuck threshold. */
  JobsStuckRunnable: 'JobsStuckRunnable',
  /** Jobs (or chunks) running beyond their expected duration or well beyond their type's recent p95. */
  Stragglers: 'Stragglers',
  /** Repairs the reconciler made: service-wide, and by `Repair` (what it repaired). */
  ReconcilerRepairs: 'ReconcilerRepairs',
} as const;
export type MetricName = (typeof MetricName)[keyof typeof MetricName];

/** The namespace every Offpeak metric is published in. */
export const METRICS_NAMESPACE = 'Offpeak';

/**
 * The dimension Powertools adds to every metric (`service`, from POWERTOOLS_SERVICE_NAME): alarms and dashboards
 * must name it along with the metric's own dimension.
 */
export const SERVICE_DIMENSION = { service: 'offpeak' } as const;

/** Dimension names. Each data point has exactly one of these (or none, for service-wide counts). */
export const MetricDimension = {
  JobType: 'JobType',
  Queue: 'Queue',
  /** Of DeadLetters: `job` or `message`. */
  Kind: 'Kind',
  /** Of ReconcilerRepairs: what was repaired (`RepairKind` in services/repairs.ts). */
  Repair: 'Repair',
} as const;

export type MetricUnit = 'Count' | 'Seconds';

/** One data point. */
export interface MetricDatum {
  readonly name: MetricName;
  readonly unit: MetricUnit;
  readonly value: number;
  /** At most one dimension (CloudWatch alarms read single-dimension metrics). @default {} */
  readonly dimensions?: Readonly<Record<string, string>>;
}

/** Where the core's metrics go. Recording never throws and never blocks on I/O. */
export interface Metrics {
  record(data: readonly MetricDatum[]): void;
}

export const noMetrics: Metrics = { record() {} };
