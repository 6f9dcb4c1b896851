import { MetricUnit, type Metrics as PowertoolsMetrics } from '@aws-lambda-powertools/metrics';
import type { Metrics } from '../ports/metrics.js';

/**
 * The Metrics port on Powertools Metrics (CloudWatch embedded metric format in the function's log). Each count is
 * a single metric with its own dimensions, written at once, so counts with different dimension values never share
 * one EMF blob and nothing waits for a flush.
 *
 * @example
 * const metrics = new PowertoolsMetricsPort(new Metrics({ namespace: 'Offpeak', serviceName: 'offpeak' }));
 * metrics.count('ReconcilerRepairs', { repair: 'requeued-stuck-submit' });
 */
export class PowertoolsMetricsPort implements Metrics {
  readonly #metrics: PowertoolsMetrics;

  constructor(metrics: PowertoolsMetrics) {
    this.#metrics = metrics;
  }

  count(name: string, dimensions: Readonly<Record<string, string>> = {}, value = 1): void {
    const single = this.#metrics.singleMetric();
    for (const [key, dimension] of Object.entries(dimensions)) single.addDimension(key, dimension);
    single.addMetric(name, MetricUnit.Count, value);
  }
}
