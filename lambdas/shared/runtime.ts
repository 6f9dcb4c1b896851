import { awsDeps } from '../../src/aws/deps.js';
import { withAwsObservability } from '../../src/aws/observability-deps.js';
import type { OffpeakDeps } from '../../src/core/deps.js';
import { logPort } from './logger.js';
import { metricsPort } from './metrics.js';

let observed: OffpeakDeps | undefined;

/**
 * The deps of a Lambda on AWS: built once per execution environment, on first use (not at import), with the
 * monitoring wiring (metered store, EMF metrics, index counts, CloudWatch job logs).
 */
export function lambdaDeps(): OffpeakDeps {
  observed ??= withAwsObservability(awsDeps({ log: logPort() }), metricsPort());
  return observed;
}
