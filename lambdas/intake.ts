import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { OffpeakDeps } from '../src/core/deps.js';
import { IntakeMessageSchema } from '../src/core/requests.js';
import { submitJob } from '../src/core/services/submit.js';
import { logger } from './shared/logger.js';
import { lambdaDeps } from './shared/runtime.js';
import { sqsConsumer } from './shared/sqs.js';

/**
 * Intake Lambda: every trigger without a Lambda of its own (Scheduler, S3 via EventBridge, external queues) puts a
 * submit request on the intake queue. A message without an idempotency key is keyed by its SQS message id, so a
 * redelivered message makes one job.
 */
export function createIntakeHandler(getDeps: () => OffpeakDeps) {
  return middy<SQSEvent, SQSBatchResponse, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(
      sqsConsumer(getDeps, {
        schema: IntakeMessageSchema,
        sequential: false,
        handle: async (message, record, deps) => {
          const { trigger, ...request } = message;
          await submitJob(
            deps,
            { ...request, idempotencyKey: request.idempotencyKey ?? `sqs:${record.messageId}` },
            trigger ?? { kind: 'queue', source: record.eventSourceARN },
          );
        },
      }),
    );
}

export const handler = createIntakeHandler(lambdaDeps);
