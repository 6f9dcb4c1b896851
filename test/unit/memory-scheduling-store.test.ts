import { schedulingStoreContract } from '../support/scheduling-store-contract.js';
import { MemorySchedulingStore } from './support/memory-scheduling-store.js';

// The in-memory store the service tests use must keep the same contract as the DynamoDB adapter.
schedulingStoreContract(
  'MemorySchedulingStore',
  async ({ clock }) => new MemorySchedulingStore(() => clock.now()),
);
