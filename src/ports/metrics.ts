/**
 * Counts for dashboards and alarms: CloudWatch embedded metric format through Powertools Metrics on AWS
 * (namespace `Offpeak`, plus the `service` dimension), a log line locally.
 */
export interface Metrics {
  /**
   * Emits `value` (default 1) of a count metric with these dimensions, now.
   * @example metrics.count('ReconcilerRepairs', { repair: 'requeued-stuck-submit' })
   */
  count(name: string, dimensions?: Readonly<Record<string, string>>, value?: number): void;
}
