import { DynamoSchedulingStore } from '../../src/aws/dynamo-scheduling-store.js';
import { ensureTable } from '../../src/local/resources.js';
import { uniqueName, useEmulators } from '../support/emulators.js';
import { schedulingStoreContract } from '../support/scheduling-store-contract.js';

const harness = useEmulators();

schedulingStoreContract('DynamoSchedulingStore on dynalite', async ({ clock }) => {
  const { clients } = harness();
  const tableName = uniqueName('scheduling');
  await ensureTable(clients.dynamodb, tableName);
  return new DynamoSchedulingStore({ client: clients.documentClient, tableName, clock });
});
