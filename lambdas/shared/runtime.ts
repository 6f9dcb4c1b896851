import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDocumentClient } from '../../src/aws/clients.js';
import { awsDeps } from '../../src/aws/deps.js';
import { withAwsObservability } from '../../src/aws/observability-deps.js';
import { createAwsTriggerDeps } from '../../src/aws/trigger-deps.js';
import type { OffpeakDeps } from '../../src/core/deps.js';
import { logPort } from './logger.js';
import { metricsPort } from './metrics.js';

let deps: OffpeakDeps | undefined;

/**
 * The deps of a Lambda on AWS: built once per execution environment, on first use (not at import), with the
 * trigger adapters (schedules, schedule registry, secrets) and the monitoring wiring (metered store, EMF metrics,
 * index counts, CloudWatch job logs).
 */
export function lambdaDeps(): OffpeakDeps {
  deps ??= {
    ...withAwsObservability(awsDeps({ log: logPort() }), metricsPort()),
    triggers: createAwsTriggerDeps(process.env, {
      documentClient: createDocumentClient(new DynamoDBClient({ maxAttempts: 5 })),
    }),
  };
  return deps;
}
