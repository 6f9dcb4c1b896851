import type { DeadLetterStore } from '../ports/dead-letter-store.js';
import type { EventBus } from '../ports/event-bus.js';
import type { Executor } from '../ports/executor.js';
import type { JobStore } from '../ports/job-store.js';
import type { LogReader } from '../ports/log-reader.js';
import type { ObjectStore } from '../ports/object-store.js';
import type { Queue } from '../ports/queue.js';
import type { RetryMarkers } from '../ports/retry-markers.js';
import type { SchedulingStore } from '../ports/scheduling-store.js';
import type { StatsSource } from '../ports/stats-source.js';
import type { Catalog } from './catalog.js';
import type { Clock } from './clock.js';
import type { CrashPoints } from './crash-point.js';
import type { RedriveTarget } from './dead-letter.js';
import type { Metrics } from './observability/metrics.js';
import type { RateLimit } from './rate-limit.js';
import type { TriggerDeps } from './triggers/trigger-deps.js';

/** Structured logging as the core needs it (Powertools Logger satisfies it). */
export interface Log {
  debug(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

export const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };

/** Tunables of the core services. */
export interface Settings {
  /** How long an idempotency key keeps returning the same job. @default 24 * 7 hours */
  readonly idempotencyRetentionHours: number;
  /** A job SUBMITTING longer than this is repaired by the reconciler. @default 5 minutes */
  readonly submittingTimeoutMs: number;
  /** A SUBMITTED/RUNNING job not updated for this long is checked against the executor. @default 10 minutes */
  readonly staleActiveMs: number;
  /** At most this many jobs are released per queue in one dispatcher run. @default 100 */
  readonly dispatchBatchSize: number;
  /**
   * At most this many waiting jobs are looked at per queue in one dispatcher run, when jobs ahead cannot run yet
   * (their job type, key or resource is at its limit). @default 500
   */
  readonly dispatchScanLimit: number;
  /**
   * Executor submissions across every dispatcher (a token bucket in the store): AWS Batch allows 50 SubmitJob calls
   * a second per account and region. A bucket lets `burst + limit` through in any one second, so the default stays
   * at 48. `undefined` turns it off.
   * @default { limit: 40, periodSeconds: 1, burst: 8 }
   */
  readonly submitRate: RateLimit | undefined;
  /** How long every dispatcher stops submitting after the executor throttled a submission. @default 2_000 */
  readonly throttleBackoffMs: number;
  /**
   * The reconciler corrects a concurrency counter only when it has not changed for this long, so that no acquire or
   * release is in flight (longer than any Lambda run) and the job index has caught up. @default 2 minutes
   */
  readonly slotRecountSettleMs: number;
  /** A `Queue Stuck` alert is raised at most this often per queue and state. @default 15 minutes */
  readonly stuckAlertIntervalMs: number;
  /**
   * Where job outputs go: a job's output location is `<outputBaseUri><jobId>/` unless it records another one.
   * @default 'outputs/' (a key prefix of the Offpeak bucket); `s3://<bucket>/outputs/` on AWS and locally
   */
  readonly outputBaseUri: string;
  /**
   * A job whose executor job has been RUNNABLE (waiting for compute) longer than this is repaired by the reconciler
   * as `runnableTimeoutAction` says, in queues without their own `maxRunnableSeconds`. @default 60 minutes
   */
  readonly runnableTimeoutMs: number;
  /**
   * `alert`: note it on the job and count the `ReconcilerRepairs` metric (repair `runnable-timeout`), once per
   * attempt; `fail`: also terminate the executor job and fail the attempt through the retry policy.
   * @default 'alert'
   */
  readonly runnableTimeoutAction: 'alert' | 'fail';
  /**
   * Completion effects still pending this long after the state write are completed by the reconciler (a crash
   * cut them short). @default 60_000 (1 minute); 0 right after a restart, when nothing else can be running them
   */
  readonly effectsGraceMs?: number;
  /** WAITING jobs older than this are re-checked against their dependencies (a lost wake-up). @default 60_000 */
  readonly waitingCheckMs?: number;
}

export const defaultSettings: Settings = {
  idempotencyRetentionHours: 24 * 7,
  submittingTimeoutMs: 5 * 60_000,
  staleActiveMs: 10 * 60_000,
  dispatchBatchSize: 100,
  dispatchScanLimit: 500,
  submitRate: { limit: 40, periodSeconds: 1, burst: 8 },
  throttleBackoffMs: 2_000,
  slotRecountSettleMs: 2 * 60_000,
  stuckAlertIntervalMs: 15 * 60_000,
  outputBaseUri: 'outputs/',
  runnableTimeoutMs: 60 * 60_000,
  runnableTimeoutAction: 'alert',
  effectsGraceMs: 60_000,
  waitingCheckMs: 60_000,
};

/** Everything the core services need, injected by a Lambda handler or the local service. */
export interface OffpeakDeps {
  readonly store: JobStore;
  /** Run-time limit overrides, rate-limit buckets, alert latches and pipelines. */
  readonly scheduling: SchedulingStore;
  readonly catalog: Catalog;
  readonly executor: Executor;
  readonly events: EventBus;
  /** Messages here wake the dispatcher (a nudge, or a delayed retry release). */
  readonly dispatchQueue: Queue;
  readonly clock: Clock;
  readonly log: Log;
  readonly settings: Settings;
  /** Schedules, the schedule registry and secrets (trigger routes and services). @default none */
  readonly triggers?: TriggerDeps;
  /**
   * The Offpeak bucket: chunk manifests, inputs, outputs, checkpoints. Needed by chunked and packed job types
   * (a deployment without a bucket cannot run them).
   */
  readonly objects?: ObjectStore;
  /** Dead letters: jobs that failed for good and messages no consumer could handle. */
  readonly deadLetters: DeadLetterStore;
  /**
   * Job logs (local files, CloudWatch Logs): `GET /jobs/{id}/logs` and the last lines a dead letter keeps.
   * @default none (logs are not readable through the API; dead letters say the log is unavailable)
   */
  readonly logs?: LogReader;
  /** Where jobs ask for a later retry. @default none (retry-after exit codes use the backoff) */
  readonly retryMarkers?: RetryMarkers;
  /** Where metrics go (EMF on Lambda, a file locally). @default none (nothing is counted) */
  readonly metrics?: Metrics;
  /** The work queues a dead message can be sent back to (redrive). @default none (message redrive refused) */
  readonly sourceQueues?: Readonly<Partial<Record<RedriveTarget, Queue>>>;
  /** Fault injection's crash hook: set only by the local service's own options (never on AWS). */
  readonly crashPoints?: CrashPoints;
  /** Index counts for `GET /stats` and the monitor pass. @default - counted through the store (slower) */
  readonly stats?: StatsSource;
}
