import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { OffpeakDeps } from '../src/core/deps.js';
import { type MetricDatum, MetricName } from '../src/core/observability/metrics.js';
import { type ReconcileSummary, reconcile } from '../src/core/services/reconcile.js';
import { logger } from './shared/logger.js';
import { lambdaDeps } from './shared/runtime.js';

/** Reconciler Lambda, on a one-minute schedule: repairs jobs stuck in a state from the store and the executor. */
export function createReconcilerHandler(getDeps: () => OffpeakDeps) {
  return middy<unknown, ReconcileSummary, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(async () => {
      const deps = getDeps();
      const summary = await reconcile(deps);
      deps.log.info('Reconciler pass', { ...summary });
      deps.metrics?.record([reconcilerRepairsMetric(summary)]);
      return summary;
    });
}

/** Repairs made by one pass (every field of the summary except the error count). */
export function reconcilerRepairsMetric(summary: ReconcileSummary): MetricDatum {
  const { errors: _errors, ...repairs } = summary;
  const value = Object.values(repairs).reduce((sum, n) => sum + n, 0);
  return { name: MetricName.ReconcilerRepairs, unit: 'Count', value };
}

export const handler = createReconcilerHandler(lambdaDeps);
