import { createAwsDeps } from '../../src/aws/deps.js';
import type { OffpeakDeps } from '../../src/core/deps.js';
import { logPort } from './logger.js';

let deps: OffpeakDeps | undefined;

/** The deps of a Lambda on AWS: built once per execution environment, on first use (not at import). */
export function lambdaDeps(): OffpeakDeps {
  deps ??= createAwsDeps(process.env, { log: logPort() });
  return deps;
}
