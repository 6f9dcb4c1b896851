import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { metricsPort } from '../../lambdas/shared/metrics.js';
import type { Metrics } from '../core/observability/metrics.js';

/**
 * Metrics of the local service: the same EMF documents the Lambdas print for CloudWatch, appended one per line to
 * a file (`<dataDir>/metrics.jsonl`), in order.
 */
export function fileMetrics(file: string): Metrics & { flushed(): Promise<void> } {
  let writes: Promise<unknown> = mkdir(dirname(file), { recursive: true });
  const port = metricsPort({
    write: (emf) => {
      writes = writes.then(() => appendFile(file, `${emf}\n`)).catch(() => undefined);
    },
  });
  return { record: (data) => port.record(data), flushed: () => writes.then(() => undefined) };
}
