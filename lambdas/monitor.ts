import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { OffpeakDeps } from '../src/core/deps.js';
import { storeStatsSource } from '../src/core/observability/store-stats-source.js';
import { collectStats, type StatsOptions, statsMetrics } from '../src/core/services/stats.js';
import { logger } from './shared/logger.js';
import { lambdaDeps } from './shared/runtime.js';

/** What one monitor pass found. */
export interface MonitorSummary {
  readonly queued: number;
  readonly running: number;
  readonly stuckRunnable: number;
  readonly stragglers: number;
}

/**
 * Monitor Lambda, on the one-minute schedule: reads the stats (queue depth and oldest waiting age per queue,
 * jobs stuck RUNNABLE, stragglers) and publishes them as metrics for the alarms and the CloudWatch dashboard.
 * Each straggler is logged as a warning with its jobId, so the alarm's Logs Insights query names them.
 */
export function createMonitorHandler(getDeps: () => OffpeakDeps, options: StatsOptions = {}) {
  return middy<unknown, MonitorSummary, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(async () => {
      const deps = getDeps();
      const stats = await collectStats(deps, deps.stats ?? storeStatsSource(deps.store), options);
      deps.metrics?.record(
        statsMetrics(
          stats,
          deps.catalog.jobTypes().map((t) => t.name),
        ),
      );
      for (const straggler of stats.stragglers ?? []) {
        deps.log.warn('Straggler: job running abnormally long', { ...straggler });
      }
      const summary: MonitorSummary = {
        queued: stats.active.QUEUED ?? 0,
        running: stats.active.RUNNING ?? 0,
        stuckRunnable: stats.queues.reduce((n, q) => n + q.stuckRunnable, 0),
        stragglers: stats.stragglers?.length ?? 0,
      };
      deps.log.debug('Monitor pass', { ...summary });
      return summary;
    });
}

const stuckSeconds = Number(process.env.OFFPEAK_STUCK_RUNNABLE_SECONDS);
export const handler = createMonitorHandler(
  lambdaDeps,
  Number.isFinite(stuckSeconds) && stuckSeconds > 0 ? { stuckRunnableAfterSeconds: stuckSeconds } : {},
);
