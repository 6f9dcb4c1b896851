import type { Log } from '../core/deps.js';
import type { Metrics } from '../ports/metrics.js';

/**
 * Metrics locally: one log line per count (`metric=ReconcilerRepairs repair=… value=1`), and running totals for
 * tools and tests. CloudWatch's alarms watch the same names on AWS.
 */
export class LogMetrics implements Metrics {
  readonly #log: Log;
  readonly #totals = new Map<string, number>();

  constructor(log: Log) {
    this.#log = log;
  }

  count(name: string, dimensions: Readonly<Record<string, string>> = {}, value = 1): void {
    const key = [name, ...Object.entries(dimensions).map(([k, v]) => `${k}=${v}`)].join(' ');
    this.#totals.set(key, (this.#totals.get(key) ?? 0) + value);
    this.#log.info('Metric', { metric: name, ...dimensions, value });
  }

  /** Totals so far, keyed `Name dim=value …`. */
  totals(): Record<string, number> {
    return Object.fromEntries(this.#totals);
  }
}
