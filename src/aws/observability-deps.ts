import { BatchClient } from '@aws-sdk/client-batch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { OffpeakDeps } from '../core/deps.js';
import { meteredJobStore } from '../core/observability/metered-store.js';
import type { Metrics } from '../core/observability/metrics.js';
import { createDocumentClient } from './clients.js';
import { CloudWatchLogReader } from './cloudwatch-log-reader.js';
import { DynamoStatsSource } from './dynamo-stats-source.js';
import { EnvVars } from './table-schema.js';

/** Environment variables of the observability wiring (set by the CDK construct). */
export const ObservabilityEnvVars = {
  /** JSON object: job type name → CloudWatch log group of its Batch job definition. */
  jobLogGroups: 'OFFPEAK_JOB_LOG_GROUPS',
  /** Base URL of the web dashboard, for links in notifications. */
  dashboardUrl: 'OFFPEAK_DASHBOARD_URL',
} as const;

/**
 * Adds what the monitoring features need to the core's deps on AWS: a metered store (every committed state
 * change records its metrics), the metrics port, index counts for `/stats`, and the CloudWatch job-log reader
 * (when `OFFPEAK_JOB_LOG_GROUPS` is set).
 */
export function withAwsObservability(
  deps: OffpeakDeps,
  metrics: Metrics,
  env: NodeJS.ProcessEnv = process.env,
): OffpeakDeps {
  const tableName = env[EnvVars.table];
  const logGroups = parseLogGroups(env[ObservabilityEnvVars.jobLogGroups]);
  return {
    ...deps,
    store: meteredJobStore(deps.store, metrics),
    metrics,
    ...(tableName
      ? { stats: new DynamoStatsSource({ client: createDocumentClient(new DynamoDBClient({})), tableName }) }
      : {}),
    ...(logGroups
      ? {
          logs: new CloudWatchLogReader({
            client: new CloudWatchLogsClient({}),
            logGroups,
            batch: new BatchClient({}),
          }),
        }
      : {}),
  };
}

function parseLogGroups(raw: string | undefined): Record<string, string> | undefined {
  if (!raw) return undefined;
  try {
    const parsed: unknown = JSON.parse(raw);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
      return Object.fromEntries(
        Object.entries(parsed).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
      );
    }
  } catch {
    // a malformed value: logs are unavailable rather than every request failing
  }
  return undefined;
}
