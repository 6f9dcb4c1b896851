import { Logger } from '@aws-lambda-powertools/logger';
import type { Log } from '../../src/core/deps.js';

/**
 * The one Powertools logger of a Lambda (JSON, service `offpeak`, level from POWERTOOLS_LOG_LEVEL). Core services
 * log through the {@link Log} port, which always carries `jobId` when a job is concerned, so one Logs Insights
 * query (`filter jobId = "…"`) finds every line about a job.
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'offpeak' });

/** The core's Log port on a Powertools logger. */
export function logPort(target: Logger = logger): Log {
  return {
    debug: (message, extra) => target.debug(message, extra ?? {}),
    info: (message, extra) => target.info(message, extra ?? {}),
    warn: (message, extra) => target.warn(message, extra ?? {}),
    error: (message, extra) => target.error(message, extra ?? {}),
  };
}
