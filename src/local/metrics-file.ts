import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { powertoolsMetrics } from '../aws/powertools-metrics.js';
import type { MetricDatum, Metrics } from '../core/observability/metrics.js';

/** The local service's metrics: the port, plus what tools and tests read back. */
export interface FileMetrics extends Metrics {
  /** Resolves when every data point recorded so far is in the file. */
  flushed(): Promise<void>;
  /** Totals so far, keyed `Name` or `Name Dimension=value` (e.g. `DeadLetters Kind=job`). */
  totals(): Record<string, number>;
}

/**
 * Metrics of the local service: the same EMF documents the Lambdas print for CloudWatch, appended one per line to
 * a file (`<dataDir>/metrics.jsonl`), in order, and running totals in memory.
 */
export function fileMetrics(file: string): FileMetrics {
  let writes: Promise<unknown> = mkdir(dirname(file), { recursive: true });
  const totals = new Map<string, number>();
  const port = powertoolsMetrics({
    write: (emf) => {
      writes = writes.then(() => appendFile(file, `${emf}\n`)).catch(() => undefined);
    },
  });
  return {
    record(data: readonly MetricDatum[]) {
      for (const datum of data) {
        const key = [datum.name, ...Object.entries(datum.dimensions ?? {}).map(([k, v]) => `${k}=${v}`)].join(
          ' ',
        );
        totals.set(key, (totals.get(key) ?? 0) + datum.value);
      }
      port.record(data);
    },
    flushed: () => writes.then(() => undefined),
    totals: () => Object.fromEntries(totals),
  };
}
