import type { EventBus } from '../ports/event-bus.js';
import type { Executor } from '../ports/executor.js';
import type { JobStore } from '../ports/job-store.js';
import type { LogReader } from '../ports/log-reader.js';
import type { Queue } from '../ports/queue.js';
import type { StatsSource } from '../ports/stats-source.js';
import type { Catalog } from './catalog.js';
import type { Clock } from './clock.js';
import type { Metrics } from './observability/metrics.js';

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
}

export const defaultSettings: Settings = {
  idempotencyRetentionHours: 24 * 7,
  submittingTimeoutMs: 5 * 60_000,
  staleActiveMs: 10 * 60_000,
  dispatchBatchSize: 100,
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
  /** Job logs (local files, CloudWatch Logs). @default - logs are not readable through the API */
  readonly logs?: LogReader;
  /** Where metrics go (EMF on Lambda, a file locally). @default - none recorded */
  readonly metrics?: Metrics;
  /** Index counts for `GET /stats` and the monitor pass. @default - counted through the store (slower) */
  readonly stats?: StatsSource;
}
