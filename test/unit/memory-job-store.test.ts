import { jobStoreContract } from '../support/job-store-contract.js';
import { MemoryJobStore } from './support/memory-job-store.js';

// The in-memory store the service tests use must keep the same contract as the DynamoDB adapter.
jobStoreContract(
  'MemoryJobStore',
  async ({ queueOrder, clock }) => new MemoryJobStore(() => clock.now(), queueOrder),
);
