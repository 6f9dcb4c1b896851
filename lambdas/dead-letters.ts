import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { z } from 'zod';
import { EnvVars } from '../src/aws/table-schema.js';
import { type MessageSource, MessageSource as Sources } from '../src/core/dead-letter.js';
import type { OffpeakDeps } from '../src/core/deps.js';
import { NonRetryableError, serializeError } from '../src/core/errors.js';
import { recordMessageDeadLetter } from '../src/core/services/dead-letters.js';
import { logger } from './shared/logger.js';
import { lambdaDeps } from './shared/runtime.js';
import { stringAttributes } from './shared/sqs.js';

/** Which queue role a dead-letter queue's record comes from. */
export type SourceResolver = (record: SQSRecord) => MessageSource | undefined;

/**
 * Dead-letter ingester: consumes every dead-letter queue (intake, dispatch, events, and EventBridge's target DLQ)
 * and records each message as a dead letter (original body, attributes, receive count, and the reason: the
 * consumer's last noted error, or EventBridge's error attributes), after which the event source mapping deletes it
 * from the DLQ. Recording is idempotent per message id, so a redelivered DLQ message changes nothing. The
 * `DeadLetters` metric (kind `message`) fires the alarm; the DLQ alarms still fire if this Lambda stops draining.
 */
export function createDeadLetterIngestHandler(getDeps: () => OffpeakDeps, sourceOf: SourceResolver) {
  return middy<SQSEvent, SQSBatchResponse, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(async (event) => {
      const deps = getDeps();
      const processor = new BatchProcessor(EventType.SQS);
      return processPartialResponse(
        event,
        async (record: SQSRecord) => {
          const source = sourceOf(record);
          if (!source) {
            const error = new NonRetryableError(
              'UnknownDeadLetterQueue',
              `No source is configured for dead-letter queue ${record.eventSourceARN}`,
            );
            deps.log.error('Dead message from an unknown queue', { error: serializeError(error) });
            throw error;
          }
          await recordMessageDeadLetter(deps, {
            source,
            messageId: record.messageId,
            body: record.body,
            attributes: { ...record.attributes } as Record<string, string>,
            messageAttributes: stringAttributes(record),
            receiveCount: Number(record.attributes?.ApproximateReceiveCount ?? '0'),
          });
        },
        processor,
        { processInParallel: true, throwOnFullBatchFailure: false },
      );
    });
}

const SourcesSchema = z.record(
  z.string(),
  z.enum(Object.values(Sources) as [MessageSource, ...MessageSource[]]),
);

/** The resolver on AWS: `OFFPEAK_DEAD_LETTER_SOURCES` maps each DLQ ARN to the role of the queue it catches. */
export function sourcesFromEnvironment(env: NodeJS.ProcessEnv = process.env): SourceResolver {
  const raw = env[EnvVars.deadLetterSources];
  const map = raw ? SourcesSchema.parse(JSON.parse(raw)) : {};
  return (record) => map[record.eventSourceARN];
}

let resolver: SourceResolver | undefined;

export const handler = createDeadLetterIngestHandler(lambdaDeps, (record) => {
  resolver ??= sourcesFromEnvironment();
  return resolver(record);
});
