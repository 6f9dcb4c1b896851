import { buildCatalogData, type CatalogData } from '../src/core/catalog.js';
import { defaultQueues } from '../src/core/queue-spec.js';
import { exampleJobTypes } from './job-types.js';
import { exampleTriggers } from './triggers.js';

/** The catalog this repository deploys (bin/offpeak.ts) and runs locally (`npm start`). */
export const catalogData: CatalogData = buildCatalogData({
  jobTypes: exampleJobTypes,
  queues: defaultQueues,
  triggers: exampleTriggers,
});
