import { exampleJobTypes } from '../config/job-types.js';
import { exampleTriggers } from '../config/triggers.js';
import type { OffpeakProps } from './offpeak.js';

/**
 * The props of the ready app (bin/offpeak.ts): the example job types. Shared with the infra tests, so they check
 * exactly what `cdk deploy` deploys.
 */
export const readyAppProps: OffpeakProps = {
  jobTypes: exampleJobTypes,
  triggers: exampleTriggers,
  // The example backup job uploads its archive under backups/.
  extraJobWritePrefixes: { 'nightly-backup': ['backups/'] },
};
