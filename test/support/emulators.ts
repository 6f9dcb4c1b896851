import { afterAll, beforeAll } from 'vitest';
import { type AwsClients, createAwsClients } from '../../src/aws/clients.js';
import { type EmulatorOptions, type Emulators, startEmulators } from '../../src/local/emulators.js';

/** Running emulators and SDK clients pointed at them over the wire. */
export interface EmulatorHarness {
  readonly emulators: Emulators;
  readonly clients: AwsClients;
  stop(): Promise<void>;
}

/** Starts the emulators and real SDK clients on them (few retries, so a broken emulator fails fast). */
export async function startTestEmulators(options: EmulatorOptions = {}): Promise<EmulatorHarness> {
  const emulators = await startEmulators(options);
  const clients = createAwsClients({
    region: emulators.region,
    credentials: emulators.credentials,
    endpoints: {
      dynamodb: emulators.endpoints.dynamodb,
      sqs: emulators.endpoints.sqs,
      s3: emulators.endpoints.s3,
    },
    maxAttempts: 2,
  });
  return {
    emulators,
    clients,
    async stop() {
      clients.destroy();
      await emulators.stop();
    },
  };
}

/**
 * Starts emulators before the file's tests and stops them after.
 * @returns an accessor, valid inside tests and hooks.
 */
export function useEmulators(options: EmulatorOptions = {}): () => EmulatorHarness {
  let harness: EmulatorHarness | undefined;
  beforeAll(async () => {
    harness = await startTestEmulators(options);
  });
  afterAll(async () => {
    await harness?.stop();
  });
  return () => {
    if (!harness) throw new Error('emulators are not running (use the accessor inside tests or hooks)');
    return harness;
  };
}

let counter = 0;

/** A resource name unique within this test process (lowercase, for queues, buckets and tables alike). */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}
