import { createHash } from 'node:crypto';
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type {
  SQSBatchResponse,
  SQSEvent,
  SQSMessageAttributes,
  SQSRecord,
  SQSRecordAttributes,
} from 'aws-lambda';
import { type Log, silentLog } from '../core/deps.js';
import { createLambdaContext, type LambdaHandler, LocalAws } from './lambda-context.js';

export interface SqsPollerOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  /** The SQS Lambda handler this queue drives (`intake`, `dispatcher`, `tracker`). */
  readonly handler: LambdaHandler<SQSEvent, unknown>;
  /** Name for logs and the Lambda context. */
  readonly functionName: string;
  /**
   * Most records per invocation, 1..10,000. Above 10 (one ReceiveMessage), a batch gathers what is already
   * waiting, within `maxBatchingWindowMs`, as Lambda's batching window does. @default 10
   */
  readonly batchSize?: number;
  /** How long to keep gathering a batch larger than 10. @default 500 */
  readonly maxBatchingWindowMs?: number;
  /** Long-poll wait per receive, 0..20 s. @default 20 */
  readonly waitTimeSeconds?: number;
  /** Batches handled at once (Lambda scales pollers out; one is the calm local default). @default 1 */
  readonly concurrency?: number;
  /** Lambda function timeout the context reports. @default 60_000 */
  readonly functionTimeoutMs?: number;
  /** @default {@link LocalAws.region} */
  readonly region?: string;
  /**
   * The `eventSourceARN` records carry, when the local queue stands in for a queue with another ARN (a queue
   * trigger's queue). @default the local queue's ARN
   */
  readonly eventSourceArn?: string;
  readonly log?: Log;
  /**
   * Fault injection (tests, `npm start -- --faults`): `duplicate` delivers every batch twice (same message ids, as
   * SQS's at-least-once delivery may), `shuffle` hands the records over in random order. @default none
   */
  readonly faults?: PollerFaults;
}

/** What fault injection does to a poller's batches (see src/local/faults.ts). */
export interface PollerFaults {
  readonly duplicate: boolean;
  readonly shuffle: boolean;
  readonly random: () => number;
  readonly onDuplicated?: (records: number) => void;
  readonly onShuffled?: () => void;
}

/** ReceiveMessage returns at most this many messages. */
const RECEIVE_MAX = 10;

/** What one invocation did with its batch. */
export interface PollOutcome {
  readonly received: number;
  readonly deleted: number;
  /** Records left on the queue: visible again after the visibility timeout, then the DLQ by redrive policy. */
  readonly failed: number;
}

/**
 * Drains one SQS queue into an SQS Lambda handler with the semantics of Lambda's event source mapping and
 * `ReportBatchItemFailures`: long-poll a batch, invoke the handler with a faithful `SQSEvent`, delete only the
 * records not listed in `batchItemFailures`. A handler that throws, or that reports an id not in the batch, fails
 * the whole batch. Failed records come back after the visibility timeout and reach the DLQ after
 * `maxReceiveCount` receives, by the queue's own redrive policy.
 *
 * @example
 * const poller = new SqsPoller({ client, queueUrl, functionName: 'offpeak-tracker', handler: trackerHandler });
 * poller.start();
 * // …
 * await poller.stop();
 */
export class SqsPoller {
  readonly functionName: string;
  readonly #client: SQSClient;
  readonly #queueUrl: string;
  readonly #handler: SqsPollerOptions['handler'];
  readonly #batchSize: number;
  readonly #windowMs: number;
  readonly #waitTimeSeconds: number;
  readonly #concurrency: number;
  readonly #functionTimeoutMs: number;
  readonly #region: string;
  readonly #log: Log;
  readonly #faults: PollerFaults | undefined;
  #queueArn: string | undefined;
  #abort = new AbortController();
  #loops: Promise<void>[] = [];
  #running = false;

  constructor(options: SqsPollerOptions) {
    this.functionName = options.functionName;
    this.#client = options.client;
    this.#queueUrl = options.queueUrl;
    this.#handler = options.handler;
    this.#batchSize = clamp(options.batchSize ?? 10, 1, 10_000);
    this.#windowMs = Math.max(0, options.maxBatchingWindowMs ?? 500);
    this.#waitTimeSeconds = clamp(options.waitTimeSeconds ?? 20, 0, 20);
    this.#concurrency = Math.max(1, Math.floor(options.concurrency ?? 1));
    this.#functionTimeoutMs = options.functionTimeoutMs ?? 60_000;
    this.#region = options.region ?? LocalAws.region;
    this.#queueArn = options.eventSourceArn;
    this.#log = options.log ?? silentLog;
    this.#faults = options.faults;
  }

  /** Starts polling in the background (idempotent). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#abort = new AbortController();
    this.#loops = Array.from({ length: this.#concurrency }, () => this.#loop());
  }

  /** Stops receiving, lets the batches in hand finish (their deletes included), then resolves. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#abort.abort();
    await Promise.allSettled(this.#loops);
    this.#loops = [];
  }

  /** Receives at most one batch and handles it: for tests and for a deterministic drain. */
  async pollOnce(waitTimeSeconds = 0): Promise<PollOutcome> {
    const messages = await this.#receive(waitTimeSeconds, new AbortController().signal);
    return messages.length === 0 ? { received: 0, deleted: 0, failed: 0 } : this.#invoke(messages);
  }

  async #loop(): Promise<void> {
    const signal = this.#abort.signal;
    let backoffMs = 250;
    while (this.#running) {
      let messages: Message[];
      try {
        messages = await this.#receive(this.#waitTimeSeconds, signal);
        backoffMs = 250;
        const windowEnds = Date.now() + this.#windowMs;
        let last = messages.length;
        // A backlog fills a large batch at once; a trickle does not wait for more than the window.
        while (
          last === RECEIVE_MAX &&
          messages.length < this.#batchSize &&
          Date.now() < windowEnds &&
          this.#running
        ) {
          const more = await this.#receive(0, signal, this.#batchSize - messages.length);
          last = more.length === Math.min(RECEIVE_MAX, this.#batchSize - messages.length) ? RECEIVE_MAX : 0;
          messages = messages.concat(more);
        }
      } catch (error) {
        if (!this.#running) return;
        this.#log.warn('SQS receive failed; retrying', {
          function: this.functionName,
          error: errorMessage(error),
          retryInMs: backoffMs,
        });
        await sleep(backoffMs, signal);
        backoffMs = Math.min(backoffMs * 2, 5_000);
        continue;
      }
      // Messages received while stopping are handled, not dropped: they are in flight and invisible already.
      if (messages.length > 0) await this.#invoke(messages);
    }
  }

  async #receive(waitTimeSeconds: number, signal: AbortSignal, max = this.#batchSize): Promise<Message[]> {
    const result = await this.#client.send(
      new ReceiveMessageCommand({
        QueueUrl: this.#queueUrl,
        MaxNumberOfMessages: Math.min(RECEIVE_MAX, max),
        WaitTimeSeconds: waitTimeSeconds,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: signal },
    );
    return result.Messages ?? [];
  }

  async #invoke(messages: Message[]): Promise<PollOutcome> {
    const records = await Promise.all(messages.map((m) => this.#record(m)));
    const faults = this.#faults;
    if (faults?.shuffle && records.length > 1) {
      shuffleInPlace(records, faults.random);
      faults.onShuffled?.();
    }
    const event: SQSEvent = { Records: records };
    if (faults?.duplicate) {
      // The first delivery's outcome is dropped, as if its delete never happened: only the second counts.
      faults.onDuplicated?.(records.length);
      await this.#handle(event, messages.length);
    }
    const failedIds = await this.#handle(event, messages.length);
    const done = event.Records.filter((r) => !failedIds.has(r.messageId));
    const deleted = await this.#delete(done);
    return { received: messages.length, deleted, failed: messages.length - done.length };
  }

  /** Invokes the handler once. @returns the ids to leave on the queue. */
  async #handle(event: SQSEvent, count: number): Promise<Set<string>> {
    const ids = new Set(event.Records.map((r) => r.messageId));
    let failedIds: Set<string>;
    try {
      const context = createLambdaContext({
        functionName: this.functionName,
        timeoutMs: this.#functionTimeoutMs,
        region: this.#region,
      });
      const started = Date.now();
      const result = await this.#handler(event, context);
      const tookMs = Date.now() - started;
      if (tookMs > this.#functionTimeoutMs) {
        this.#log.warn('Handler ran longer than its function timeout (Lambda would have stopped it)', {
          function: this.functionName,
          tookMs,
        });
      }
      failedIds = failuresOf(result, ids);
    } catch (error) {
      this.#log.error('Handler failed; the whole batch returns to the queue', {
        function: this.functionName,
        records: count,
        error: errorMessage(error),
      });
      failedIds = ids;
    }
    return failedIds;
  }

  async #delete(records: readonly SQSRecord[]): Promise<number> {
    let deleted = 0;
    for (let i = 0; i < records.length; i += 10) {
      const chunk = records.slice(i, i + 10);
      try {
        const result = await this.#client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.#queueUrl,
            Entries: chunk.map((r, index) => ({ Id: String(index), ReceiptHandle: r.receiptHandle })),
          }),
        );
        deleted += result.Successful?.length ?? 0;
        for (const failure of result.Failed ?? []) {
          this.#log.warn('SQS delete failed; the message will be redelivered', {
            function: this.functionName,
            code: failure.Code,
            message: failure.Message,
          });
        }
      } catch (error) {
        this.#log.warn('SQS delete failed; the messages will be redelivered', {
          function: this.functionName,
          error: errorMessage(error),
        });
      }
    }
    return deleted;
  }

  async #record(message: Message): Promise<SQSRecord> {
    const body = message.Body ?? '';
    const attributes = message.Attributes ?? {};
    const messageAttributes = toLambdaAttributes(message.MessageAttributes);
    return {
      messageId: message.MessageId ?? '',
      receiptHandle: message.ReceiptHandle ?? '',
      body,
      attributes: {
        ...attributes,
        ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
        SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
        SenderId: attributes.SenderId ?? LocalAws.accountId,
        ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      } satisfies SQSRecordAttributes,
      messageAttributes,
      md5OfBody: message.MD5OfBody ?? createHash('md5').update(body, 'utf8').digest('hex'),
      ...(message.MD5OfMessageAttributes ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
      eventSource: 'aws:sqs',
      eventSourceARN: await this.#arn(),
      awsRegion: this.#region,
    };
  }

  async #arn(): Promise<string> {
    if (this.#queueArn === undefined) {
      try {
        const result = await this.#client.send(
          new GetQueueAttributesCommand({ QueueUrl: this.#queueUrl, AttributeNames: ['QueueArn'] }),
        );
        this.#queueArn = result.Attributes?.QueueArn;
      } catch (error) {
        this.#log.warn('Could not read the queue ARN', {
          queueUrl: this.#queueUrl,
          error: errorMessage(error),
        });
      }
      this.#queueArn ??= `arn:aws:sqs:${this.#region}:${LocalAws.accountId}:${this.#queueUrl.split('/').pop()}`;
    }
    return this.#queueArn;
  }
}

/**
 * The ids to keep on the queue. As with Lambda's ReportBatchItemFailures: no response or an empty list means all
 * succeeded; an identifier that is empty or not in the batch fails the whole batch.
 */
function failuresOf(result: unknown, ids: ReadonlySet<string>): Set<string> {
  const failures =
    result !== null && typeof result === 'object'
      ? (result as Partial<SQSBatchResponse>).batchItemFailures
      : undefined;
  if (!Array.isArray(failures)) return new Set();
  const failed = new Set<string>();
  for (const failure of failures) {
    const id = failure?.itemIdentifier;
    if (typeof id !== 'string' || !ids.has(id)) return new Set(ids);
    failed.add(id);
  }
  return failed;
}

/** SDK message attributes → the Lambda event's shape (binary as base64, list values reserved and empty). */
function toLambdaAttributes(
  attributes: Record<string, MessageAttributeValue> | undefined,
): SQSMessageAttributes {
  const out: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(attributes ?? {})) {
    out[name] = {
      ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined
        ? { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }
        : {}),
      stringListValues: value.StringListValues ?? [],
      binaryListValues: (value.BinaryListValues ?? []).map((b) => Buffer.from(b).toString('base64')),
      dataType: value.DataType ?? 'String',
    };
  }
  return out;
}

function shuffleInPlace<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.floor(value)));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
