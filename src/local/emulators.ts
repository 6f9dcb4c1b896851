import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { buildApp } from 'fauxqs';

/** dynalite ships no types; this is the part of its factory Offpeak uses. */
type DynaliteFactory = (options: {
  path?: string;
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
}) => Server;

const dynalite = createRequire(import.meta.url)('dynalite') as DynaliteFactory;

const HOST = '127.0.0.1';

export interface EmulatorOptions {
  /** Directory for dynalite's LevelDB files; the table survives restarts. @default in memory */
  readonly dataDir?: string;
  /** @default 0 (a free port) */
  readonly dynamoPort?: number;
  /** Port of the SQS + S3 emulator (fauxqs, in memory). @default 0 (a free port) */
  readonly sqsPort?: number;
}

export interface Emulators {
  readonly endpoints: { readonly dynamodb: string; readonly sqs: string; readonly s3: string };
  readonly region: 'us-east-1';
  readonly credentials: { readonly accessKeyId: 'local'; readonly secretAccessKey: 'local' };
  /** Stops both servers and closes their sockets and the LevelDB store. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts DynamoDB (dynalite) and SQS + S3 (fauxqs) emulators on 127.0.0.1, quietly.
 *
 * @example
 * const emulators = await startEmulators({ dataDir: '.offpeak/dynamodb' });
 * process.env.AWS_ENDPOINT_URL_DYNAMODB = emulators.endpoints.dynamodb;
 * // …
 * await emulators.stop();
 */
export async function startEmulators(options: EmulatorOptions = {}): Promise<Emulators> {
  if (options.dataDir !== undefined) mkdirSync(options.dataDir, { recursive: true });
  // Tables become ACTIVE at once: the 500 ms CREATING default only slows local start and tests.
  const dynamo = dynalite({
    ...(options.dataDir !== undefined ? { path: options.dataDir } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  await listen(dynamo, options.dynamoPort ?? 0);

  // buildApp rather than startFauxqs: the latter listens on 0.0.0.0, and the local service must stay on loopback.
  const fauxqs = buildApp({ logger: false });
  let fauxqsAddress: string;
  try {
    fauxqsAddress = await fauxqs.listen({ port: options.sqsPort ?? 0, host: HOST });
  } catch (error) {
    await closeDynalite(dynamo);
    throw error;
  }

  const dynamoPort = (dynamo.address() as AddressInfo).port;
  let stopping: Promise<void> | undefined;
  return {
    endpoints: { dynamodb: `http://${HOST}:${dynamoPort}`, sqs: fauxqsAddress, s3: fauxqsAddress },
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    stop() {
      stopping ??= Promise.all([fauxqs.close(), closeDynalite(dynamo)]).then(() => undefined);
      return stopping;
    },
  };
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeDynalite(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    // dynalite's close stops accepting requests, then waits for pending LevelDB operations and closes the store.
    server.close((error?: Error) => (error ? reject(error) : resolve()));
    // Keep-alive sockets of SDK clients would otherwise hold the server (and vitest) open.
    server.closeAllConnections();
  });
}
