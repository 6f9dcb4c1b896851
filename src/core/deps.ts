import type { DeadLetterStore } from '../ports/dead-letter-store.js';
import type { EventBus } from '../ports/event-bus.js';
import type { Executor } from '../ports/executor.js';
import type { JobStore } from '../ports/job-store.js';
import type { LogReader } from '../ports/log-reader.js';
import type { Metrics } from '../ports/metrics.js';
import type { Queue } from '../ports/queue.js';
import type { RetryMarkers } from '../ports/retry-markers.js';
import type { Catalog } from './catalog.js';
import type { Clock } from './clock.js';
import type { CrashPoints } from './crash-point.js';
import type { RedriveTarget } from './dead-letter.js';

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
   * A job whose executor job has been RUNNABLE (waiting for compute) longer than this is repaired by the reconciler
   * as `runnableTimeoutAction` says. @default 60 minutes
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
  runnableTimeoutMs: 60 * 60_000,
  runnableTimeoutAction: 'alert',
  effectsGraceMs: 60_000,
  waitingCheckMs: 60_000,
};

/** Everything the core services need, injected by a Lambda handler or the local service. */
export interface OffpeakDeps {
  readonly store: JobStore;
  readonly catalog: Catalog;
  readonly executor: Executor;
  readonly events: EventBus;
  /** Messages here wake the dispatcher (a nudge, or a delayed retry release). */
  readonly dispatchQueue: Queue;
  readonly clock: Clock;
  readonly log: Log;
  readonly settings: Settings;
  /** Dead letters: jobs that failed for good and messages no consumer could handle. */
  readonly deadLetters: DeadLetterStore;
  /** Job logs, for the last lines a dead letter keeps. @default none (dead letters say the log is unavailable) */
  readonly logs?: LogReader;
  /** Where jobs ask for a later retry. @default none (retry-after exit codes use the backoff) */
  readonly retryMarkers?: RetryMarkers;
  /** @default none (nothing is counted) */
  readonly metrics?: Metrics;
  /** The work queues a dead message can be sent back to (redrive). @default none (message redrive refused) */
  readonly sourceQueues?: Readonly<Partial<Record<RedriveTarget, Queue>>>;
  /** Fault injection's crash hook: set only by the local service's own options (never on AWS). */
  readonly crashPoints?: CrashPoints;
}
