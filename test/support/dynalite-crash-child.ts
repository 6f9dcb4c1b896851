/**
 * Reproduces a crash in the middle of a dynalite write, for test/integration/heal-indexes.test.ts: dynalite writes
 * an item's index entries and the item as separate LevelDB writes; this process writes a job, then rewrites it as
 * SUBMITTING and is killed (SIGKILL) half-way: after the index deletes (`mode=deletes`) or after the index puts
 * (`mode=puts`), before the item itself.
 *
 * Usage: node --import tsx test/support/dynalite-crash-child.ts <dataDir> <deletes|puts>
 */
import { createRequire } from 'node:module';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { createAwsClients } from '../../src/aws/clients.js';
import { DynamoJobStore } from '../../src/aws/dynamo-job-store.js';
import { toJobItem } from '../../src/aws/job-item.js';
import { transitionJob } from '../../src/core/job.js';
import { startEmulators } from '../../src/local/emulators.js';
import { ensureTable } from '../../src/local/resources.js';
import { makeJob } from './jobs.js';

type UpdateIndexes = (
  store: unknown,
  table: unknown,
  existing: unknown,
  item: unknown,
  cb: () => void,
) => void;
const [dataDir, mode] = process.argv.slice(2);
const dynaliteDb = createRequire(import.meta.url)('dynalite/db') as { updateIndexes: UpdateIndexes };
const original = dynaliteDb.updateIndexes;
dynaliteDb.updateIndexes = (store, table, existing, item, cb) => {
  const crash = (item as { crash?: { S?: string } } | undefined)?.crash?.S === 'yes';
  if (!crash) return original(store, table, existing, item, cb);
  // Half of what dynalite does, then the process dies before the item is written.
  const half = () => process.kill(process.pid, 'SIGKILL');
  if (mode === 'deletes') original(store, table, existing, undefined, half);
  else original(store, table, undefined, item, half);
};

const emulators = await startEmulators({ dataDir });
const clients = createAwsClients({
  region: emulators.region,
  credentials: emulators.credentials,
  endpoints: { dynamodb: emulators.endpoints.dynamodb },
  maxAttempts: 1,
});
await ensureTable(clients.dynamodb, 'offpeak');
const store = new DynamoJobStore({
  client: clients.documentClient,
  tableName: 'offpeak',
  queueOrder: () => 'fifo',
});
const job = makeJob({}, new Date('2026-11-23T10:00:00.000Z'));
await store.createJob(job);
process.stdout.write(`${job.id}\n`);
const next = { ...transitionJob(job, 'SUBMITTING', new Date('2026-11-23T10:00:01.000Z')), version: 1 };
await clients.documentClient.send(
  new PutCommand({ TableName: 'offpeak', Item: { ...toJobItem(next, 'fifo'), crash: 'yes' } }),
);
