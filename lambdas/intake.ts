import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { OffpeakDeps } from '../src/core/deps.js';
import { DerivedKeys } from '../src/core/idempotency.js';
import { IntakeMessageSchema } from '../src/core/requests.js';
import { REDRIVE_OF_ATTRIBUTE } from '../src/core/services/dead-letters.js';
import { submitJob } from '../src/core/services/submit.js';
import { logger } from './shared/logger.js';
import { lambdaDeps } from './shared/runtime.js';
import { sqsConsumer } from './shared/sqs.js';

/**
 * Intake Lambda: every trigger without a Lambda of its own (Scheduler, S3 via EventBridge, external queues) puts a
 * submit request on the intake queue. A message without an idempotency key is keyed by its SQS message id (or, for a
 * redriven dead message, by the id of the message it came from), so a redelivered or redriven message makes one job.
 */
export function createIntakeHandler(getDeps: () => OffpeakDeps) {
  return middy<SQSEvent, SQSBatchResponse, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(
      sqsConsumer(getDeps, {
        schema: IntakeMessageSchema,
        source: 'intake',
        sequential: false,
        handle: async (message, record, deps) => {
          const { trigger, ...request } = message;
          const redriveOf = record.messageAttributes?.[REDRIVE_OF_ATTRIBUTE]?.stringValue;
          await submitJob(
            deps,
            {
              ...request,
              idempotencyKey: request.idempotencyKey ?? DerivedKeys.sqsMessage(record.messageId, redriveOf),
            },
            trigger ?? { kind: 'queue', source: record.eventSourceARN },
          );
        },
      }),
    );
}

export const handler = createIntakeHandler(lambdaDeps);
