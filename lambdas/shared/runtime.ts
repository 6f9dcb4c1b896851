import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDocumentClient } from '../../src/aws/clients.js';
import { awsDeps } from '../../src/aws/deps.js';
import { createAwsTriggerDeps } from '../../src/aws/trigger-deps.js';
import type { OffpeakDeps } from '../../src/core/deps.js';
import { logPort } from './logger.js';

let deps: OffpeakDeps | undefined;

/**
 * The deps of a Lambda on AWS: built once per execution environment, on first use (not at import), with the
 * trigger adapters (schedules, schedule registry, secrets).
 */
export function lambdaDeps(): OffpeakDeps {
  deps ??= {
    ...awsDeps({ log: logPort() }),
    triggers: createAwsTriggerDeps(process.env, {
      documentClient: createDocumentClient(new DynamoDBClient({ maxAttempts: 5 })),
    }),
  };
  return deps;
}
