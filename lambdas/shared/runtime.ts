import { awsDeps } from '../../src/aws/deps.js';
import type { OffpeakDeps } from '../../src/core/deps.js';
import { logPort } from './logger.js';

/** The deps of a Lambda on AWS: built once per execution environment, on first use (not at import). */
export function lambdaDeps(): OffpeakDeps {
  return awsDeps({ log: logPort() });
}
