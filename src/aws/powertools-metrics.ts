import { Metrics as PowertoolsMetrics } from '@aws-lambda-powertools/metrics';
import {
  METRICS_NAMESPACE,
  type MetricDatum,
  type Metrics,
  SERVICE_DIMENSION,
} from '../core/observability/metrics.js';

export interface PowertoolsMetricsOptions {
  /** @default POWERTOOLS_METRICS_NAMESPACE or 'Offpeak' */
  readonly namespace?: string;
  /**
   * Where each EMF document goes. @default - stdout, as Powertools publishes (Lambda forwards it to CloudWatch)
   */
  readonly write?: (emf: string) => void;
}

/**
 * The core's {@link Metrics} port on Powertools metrics: each data point becomes one EMF document with the
 * `service` dimension and at most one dimension of its own, published at once (no buffering to lose if an
 * invocation fails half-way).
 *
 * @example
 * const metrics = powertoolsMetrics();
 * metrics.record([{ name: 'JobsSubmitted', unit: 'Count', value: 1, dimensions: { JobType: 'hello' } }]);
 */
export function powertoolsMetrics(options: PowertoolsMetricsOptions = {}): Metrics {
  const powertools = new PowertoolsMetrics({
    namespace: options.namespace ?? process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE,
    serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_DIMENSION.service,
  });
  const publish = (datum: MetricDatum) => {
    for (const [name, value] of Object.entries(datum.dimensions ?? {})) powertools.addDimension(name, value);
    powertools.addMetric(datum.name, datum.unit, datum.value);
    if (options.write) {
      options.write(JSON.stringify(powertools.serializeMetrics()));
      powertools.clearMetrics();
      powertools.clearDimensions();
    } else {
      powertools.publishStoredMetrics();
    }
  };
  return {
    record(data) {
      for (const datum of data) {
        try {
          publish(datum);
        } catch {
          // Best effort: a metric that cannot be written must never fail the work it describes.
          powertools.clearMetrics();
          powertools.clearDimensions();
        }
      }
    },
  };
}
