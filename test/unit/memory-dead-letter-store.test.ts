import { deadLetterStoreContract } from '../support/dead-letter-store-contract.js';
import { MemoryDeadLetterStore } from './support/memory-dead-letter-store.js';

// The in-memory store the service tests use must keep the same contract as the DynamoDB adapter.
deadLetterStoreContract('MemoryDeadLetterStore', async () => new MemoryDeadLetterStore());
