import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { z } from 'zod';
import type { MessageSource } from '../../src/core/dead-letter.js';
import type { OffpeakDeps } from '../../src/core/deps.js';
import { ErrorKind, errorKindOf, serializeError } from '../../src/core/errors.js';
import { recordMessageDeadLetter } from '../../src/core/services/dead-letters.js';
import { parseWith } from './http.js';

export interface SqsConsumerOptions<S extends z.ZodType> {
  /** What the message body must look like (after JSON.parse). */
  readonly schema: S;
  /** Handles one valid message; throwing fails only this record (it is retried, then dead-lettered). */
  readonly handle: (message: z.infer<S>, record: SQSRecord, deps: OffpeakDeps) => Promise<void>;
  /** Records in order, one at a time (e.g. state changes of one job). @default true */
  readonly sequential?: boolean;
  /**
   * Which queue this is, for dead letters: a message that can never succeed (it fails validation, or its handler
   * throws a non-retryable error) is recorded as a dead letter with its reason at once and removed from the
   * queue, instead of being received `maxReceiveCount` times first. @default undefined (every failure is retried)
   */
  readonly source?: MessageSource;
}

/** Errors no redelivery can fix: bad input, a conflict with what exists, a permanent failure. */
const permanentKinds: ReadonlySet<string> = new Set([
  ErrorKind.Validation,
  ErrorKind.Conflict,
  ErrorKind.NotFound,
  ErrorKind.NonRetryable,
]);

/**
 * An SQS consumer with partial batch failures (Powertools batch): a malformed or failing record fails alone and
 * reaches the queue's DLQ after maxReceiveCount; the rest of the batch is deleted. With a `source`, a permanent
 * failure becomes a dead letter at once (with the error as its reason), and a transient one leaves a note of its
 * error, so the dead letter the DLQ ingester records later says why.
 */
export function sqsConsumer<S extends z.ZodType>(getDeps: () => OffpeakDeps, options: SqsConsumerOptions<S>) {
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const deps = getDeps();
    const processor = new BatchProcessor(EventType.SQS);
    return processPartialResponse(
      event,
      async (record: SQSRecord) => {
        try {
          const message = parseWith(
            options.schema,
            parseBody(record.body),
            'InvalidMessage',
            'Message is invalid',
          );
          await options.handle(message, record, deps);
        } catch (error) {
          const receiveCount = Number(record.attributes?.ApproximateReceiveCount ?? '1');
          if (options.source && permanentKinds.has(errorKindOf(error))) {
            // A dead letter with its reason; if even that fails, the record is retried like any other failure.
            await recordMessageDeadLetter(
              deps,
              {
                source: options.source,
                messageId: record.messageId,
                body: record.body,
                attributes: { ...record.attributes } as Record<string, string>,
                messageAttributes: stringAttributes(record),
                receiveCount,
              },
              serializeError(error),
            );
            return;
          }
          deps.log.error('Message failed', {
            messageId: record.messageId,
            receiveCount,
            error: serializeError(error),
          });
          if (options.source) {
            await deps.deadLetters
              .noteMessageFailure({
                messageId: record.messageId,
                source: options.source,
                error: serializeError(error),
                receiveCount,
                at: deps.clock.now().toISOString(),
              })
              .catch((noteError: unknown) =>
                deps.log.warn('Could not note a message failure', { error: serializeError(noteError) }),
              );
          }
          throw error;
        }
      },
      processor,
      { processInParallel: !(options.sequential ?? true), throwOnFullBatchFailure: false },
    );
  };
}

/** The string message attributes of a record (binary ones are left out). */
export function stringAttributes(record: SQSRecord): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(record.messageAttributes ?? {})) {
    if (value?.stringValue !== undefined) out[name] = value.stringValue;
  }
  return out;
}

function parseBody(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    // Let the schema report it: a non-JSON body is just an invalid message.
    return body;
  }
}
