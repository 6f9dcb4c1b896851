import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { OffpeakDeps } from '../src/core/deps.js';
import { type ReconcileSummary, reconcile } from '../src/core/services/reconcile.js';
import { logger } from './shared/logger.js';
import { lambdaDeps } from './shared/runtime.js';

/** Reconciler Lambda, on a one-minute schedule: repairs jobs stuck in a state from the store and the executor.
 * Each repair counts the `ReconcilerRepairs` metric itself (recordRepair). */
export function createReconcilerHandler(getDeps: () => OffpeakDeps) {
  return middy<unknown, ReconcileSummary, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(async () => {
      const deps = getDeps();
      const summary = await reconcile(deps);
      deps.log.info('Reconciler pass', { ...summary });
      return summary;
    });
}

export const handler = createReconcilerHandler(lambdaDeps);
