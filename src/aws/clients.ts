import { BatchClient } from '@aws-sdk/client-batch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Services Offpeak talks to, as named in `AWS_ENDPOINT_URL_<SERVICE>` (lower-cased). */
export type AwsService = 'dynamodb' | 'sqs' | 's3' | 'batch' | 'eventbridge' | 'logs';

export interface AwsClientsOptions {
  /** @default the SDK's region chain (`AWS_REGION`, profile, …) */
  readonly region?: string;
  /** @default the SDK's credential chain */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /**
   * Explicit endpoints, for tests. Everywhere else endpoints come from the SDK's own
   * `AWS_ENDPOINT_URL_<SERVICE>` / `AWS_ENDPOINT_URL` environment variables, so no code path knows about emulators.
   * @default none
   */
  readonly endpoints?: Partial<Record<AwsService, string>>;
  /**
   * Total attempts per call, including the first. Throttling (ProvisionedThroughputExceeded, ThrottlingException)
   * and 5xx errors are retried by the SDK's retry strategy with exponential backoff.
   * @default 5
   */
  readonly maxAttempts?: number;
  /** @default 'standard' (adaptive's client-side rate limiter helps long-lived hot clients, not short Lambdas) */
  readonly retryMode?: 'standard' | 'adaptive';
  /** Environment read to decide S3 path-style addressing. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

/** The SDK clients the AWS adapters use. */
export interface AwsClients {
  readonly dynamodb: DynamoDBClient;
  /** Document client over `dynamodb`; drops `undefined` values when marshalling. */
  readonly documentClient: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly s3: S3Client;
  readonly batch: BatchClient;
  readonly eventbridge: EventBridgeClient;
  /** CloudWatch Logs (job log tails for dead letters). */
  readonly logs: CloudWatchLogsClient;
  /** Closes the clients' sockets (tests, CLI), so the process can exit. */
  destroy(): void;
}

/**
 * Creates the SDK clients with Offpeak's retry and checksum settings.
 *
 * @example
 * const clients = createAwsClients(); // endpoints from AWS_ENDPOINT_URL_DYNAMODB etc. when set
 * const store = new DynamoJobStore({ client: clients.documentClient, tableName, queueOrder });
 */
export function createAwsClients(options: AwsClientsOptions = {}): AwsClients {
  const env = options.env ?? process.env;
  const base = {
    ...(options.region !== undefined ? { region: options.region } : {}),
    ...(options.credentials !== undefined ? { credentials: { ...options.credentials } } : {}),
    maxAttempts: options.maxAttempts ?? 5,
    retryMode: options.retryMode ?? 'standard',
  };
  const endpoint = (service: AwsService) => {
    const url = options.endpoints?.[service];
    return url === undefined ? {} : { endpoint: url };
  };
  const dynamodb = new DynamoDBClient({ ...base, ...endpoint('dynamodb') });
  const documentClient = createDocumentClient(dynamodb);
  const sqs = new SQSClient({ ...base, ...endpoint('sqs') });
  const s3 = new S3Client({
    ...base,
    ...endpoint('s3'),
    // Emulators (and S3-compatible stores) speak neither the newer default CRC checksums nor virtual-hosted
    // buckets on 127.0.0.1; real S3 accepts both settings.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    forcePathStyle: hasS3EndpointOverride(options, env),
  });
  const batch = new BatchClient({ ...base, ...endpoint('batch') });
  const eventbridge = new EventBridgeClient({ ...base, ...endpoint('eventbridge') });
  const logs = new CloudWatchLogsClient({ ...base, ...endpoint('logs') });
  return {
    dynamodb,
    documentClient,
    sqs,
    s3,
    batch,
    eventbridge,
    logs,
    destroy() {
      documentClient.destroy();
      dynamodb.destroy();
      sqs.destroy();
      s3.destroy();
      batch.destroy();
      eventbridge.destroy();
      logs.destroy();
    },
  };
}

/** A document client with the marshalling options the job store relies on. */
export function createDocumentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    unmarshallOptions: { wrapNumbers: false },
  });
}

function hasS3EndpointOverride(options: AwsClientsOptions, env: NodeJS.ProcessEnv): boolean {
  return Boolean(options.endpoints?.s3 ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL);
}
