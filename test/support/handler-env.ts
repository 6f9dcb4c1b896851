import type { AwsClients } from '../../src/aws/clients.js';
import { EnvVars } from '../../src/aws/table-schema.js';
import type { CatalogData } from '../../src/core/catalog.js';
import { type EnsuredResources, ensureResources } from '../../src/local/resources.js';
import { uniqueName } from './emulators.js';

/** A table, a bucket and the three work queues on the emulators, with names no other test file uses. */
export function ensureTestResources(clients: AwsClients): Promise<EnsuredResources> {
  return ensureResources(clients, {
    table: uniqueName('table'),
    bucket: uniqueName('bucket'),
    intakeQueue: uniqueName('intake'),
    dispatchQueue: uniqueName('dispatch'),
    eventsQueue: uniqueName('events'),
  });
}

/**
 * The environment a deployed Offpeak Lambda gets, pointed at emulator resources: the table, the dispatch queue, a bus
 * name, a Batch job queue per queue and a job definition per job type of `catalog` (`arn:jq/<queue>`,
 * `arn:jd/<type>:1`), and the catalog itself. `extra` adds or replaces variables.
 */
export function handlerEnv(
  resources: EnsuredResources,
  catalog: CatalogData,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  return {
    [EnvVars.table]: resources.tableName,
    [EnvVars.dispatchQueueUrl]: resources.queues.dispatch.url,
    [EnvVars.eventBusName]: 'offpeak-test',
    [EnvVars.jobQueues]: JSON.stringify(
      Object.fromEntries(catalog.queues.map((q) => [q.name, `arn:jq/${q.name}`])),
    ),
    [EnvVars.jobDefinitions]: JSON.stringify(
      Object.fromEntries(catalog.jobTypes.map((t) => [t.name, `arn:jd/${t.name}:1`])),
    ),
    [EnvVars.catalog]: JSON.stringify(catalog),
    ...extra,
  };
}
