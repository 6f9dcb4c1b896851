import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { NonRetryableError, RetryableError, ValidationError } from '../core/errors.js';
import type { Queue, SendOptions } from '../ports/queue.js';

export interface SqsQueueOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  /** Attempts for entries a batch reports as failed by the service (sender faults are not retried). @default 3 */
  readonly batchAttempts?: number;
}

/** SendMessageBatch limits: 10 entries and 256 KiB of payload per call. */
const BATCH_ENTRIES = 10;
const BATCH_BYTES = 256 * 1024;
const MAX_DELAY_SECONDS = 900;

/**
 * The Queue port on one SQS queue. Bodies are sent as JSON.
 *
 * @example
 * const dispatch = new SqsQueue({ client: clients.sqs, queueUrl: env.OFFPEAK_DISPATCH_QUEUE_URL });
 * await dispatch.send({ kind: 'retry-release', jobId }, { delaySeconds: 120 });
 */
export class SqsQueue implements Queue {
  readonly #client: SQSClient;
  readonly #queueUrl: string;
  readonly #batchAttempts: number;

  constructor(options: SqsQueueOptions) {
    this.#client = options.client;
    this.#queueUrl = options.queueUrl;
    this.#batchAttempts = options.batchAttempts ?? 3;
  }

  get queueUrl(): string {
    return this.#queueUrl;
  }

  async send(body: unknown, options?: SendOptions): Promise<void> {
    const delay = options?.delaySeconds;
    const attributes = Object.entries(options?.attributes ?? {});
    await this.#client.send(
      new SendMessageCommand({
        QueueUrl: this.#queueUrl,
        MessageBody: serialize(body),
        ...(delay !== undefined ? { DelaySeconds: checkedDelay(delay) } : {}),
        ...(attributes.length > 0
          ? {
              MessageAttributes: Object.fromEntries(
                attributes.map(([name, value]) => [name, { DataType: 'String', StringValue: value }]),
              ),
            }
          : {}),
      }),
    );
  }

  async sendMany(bodies: readonly unknown[]): Promise<void> {
    const entries = bodies.map((body, index) => ({ Id: String(index), MessageBody: serialize(body) }));
    for (const batch of batchesOf(entries)) await this.#sendBatch(batch);
  }

  async #sendBatch(entries: SendMessageBatchRequestEntry[]): Promise<void> {
    let pending = entries;
    let lastErrors: string[] = [];
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > this.#batchAttempts) {
        throw new RetryableError(
          'SendMessageBatchFailed',
          `${pending.length} messages could not be sent to ${this.#queueUrl}: ${lastErrors.join(', ')}`,
        );
      }
      if (attempt > 1) await sleep(Math.random() * 100 * 2 ** attempt);
      const result = await this.#client.send(
        new SendMessageBatchCommand({ QueueUrl: this.#queueUrl, Entries: pending }),
      );
      const failed = result.Failed ?? [];
      const senderFaults = failed.filter((f) => f.SenderFault);
      if (senderFaults.length > 0) {
        throw new NonRetryableError(
          'SendMessageRejected',
          `SQS rejected ${senderFaults.length} messages: ${senderFaults.map((f) => `${f.Code}: ${f.Message}`).join(', ')}`,
        );
      }
      const failedIds = new Set(failed.map((f) => f.Id));
      lastErrors = failed.map((f) => f.Code ?? 'unknown');
      pending = pending.filter((entry) => failedIds.has(entry.Id));
    }
  }
}

function serialize(body: unknown): string {
  const text = JSON.stringify(body);
  if (text === undefined)
    throw new ValidationError('InvalidMessage', 'A message body must be JSON-serializable');
  return text;
}

function checkedDelay(seconds: number): number {
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new ValidationError('InvalidDelay', `delaySeconds must be 0..${MAX_DELAY_SECONDS}, got ${seconds}`);
  }
  // SQS caps delays at 15 minutes; longer waits are the caller's to chain (e.g. re-delay on receipt).
  return Math.min(MAX_DELAY_SECONDS, Math.ceil(seconds));
}

/** Groups entries into SendMessageBatch calls within the entry-count and payload-size limits. */
function* batchesOf(entries: SendMessageBatchRequestEntry[]): Generator<SendMessageBatchRequestEntry[]> {
  let batch: SendMessageBatchRequestEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = Buffer.byteLength(entry.MessageBody ?? '', 'utf8');
    if (batch.length > 0 && (batch.length === BATCH_ENTRIES || bytes + size > BATCH_BYTES)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(entry);
    bytes += size;
  }
  if (batch.length > 0) yield batch;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
