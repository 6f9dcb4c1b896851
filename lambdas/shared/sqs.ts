import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { z } from 'zod';
import type { OffpeakDeps } from '../../src/core/deps.js';
import { serializeError } from '../../src/core/errors.js';
import { parseWith } from './http.js';

export interface SqsConsumerOptions<S extends z.ZodType> {
  /** What the message body must look like (after JSON.parse). */
  readonly schema: S;
  /** Handles one valid message; throwing fails only this record (it is retried, then dead-lettered). */
  readonly handle: (message: z.infer<S>, record: SQSRecord, deps: OffpeakDeps) => Promise<void>;
  /** Records in order, one at a time (e.g. state changes of one job). @default true */
  readonly sequential?: boolean;
}

/**
 * An SQS consumer with partial batch failures (Powertools batch): a malformed or failing record fails alone and
 * reaches the queue's DLQ after maxReceiveCount; the rest of the batch is deleted.
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
          deps.log.error('Message failed', {
            messageId: record.messageId,
            receiveCount: record.attributes?.ApproximateReceiveCount,
            error: serializeError(error),
          });
          throw error;
        }
      },
      processor,
      { processInParallel: !(options.sequential ?? true), throwOnFullBatchFailure: false },
    );
  };
}

function parseBody(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    // Let the schema report it: a non-JSON body is just an invalid message.
    return body;
  }
}
