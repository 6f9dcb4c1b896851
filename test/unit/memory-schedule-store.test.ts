import { scheduleStoreContract } from '../support/schedule-store-contract.js';
import { MemoryScheduleStore } from './support/memory-schedule-store.js';

scheduleStoreContract('MemoryScheduleStore', async () => new MemoryScheduleStore());
