import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { z } from 'zod';
import type { OffpeakDeps } from '../src/core/deps.js';
import { REDRIVE_OF_ATTRIBUTE } from '../src/core/services/dead-letters.js';
import { submitJob } from '../src/core/services/submit.js';
import { intakeSubmission } from '../src/core/triggers/trigger-messages.js';
import { logger } from './shared/logger.js';
import { lambdaDeps } from './shared/runtime.js';
import { sqsConsumer } from './shared/sqs.js';

/**
 * Intake Lambda: every trigger without a Lambda of its own puts work on the intake queue: Scheduler (a submit
 * request), S3 uploads and event rules (`{offpeakTrigger, event}`), and the queues of queue triggers (their own
 * messages, recognized by the record's queue ARN). `intakeSubmission` turns each record into a submission; a
 * message without an idempotency key is keyed by its SQS message id (or, for a redriven dead message, by the id of
 * the message it came from), so a redelivered or redriven message makes one job.
 */
export function createIntakeHandler(getDeps: () => OffpeakDeps) {
  return middy<SQSEvent, SQSBatchResponse, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(
      sqsConsumer(getDeps, {
        // The body is read by intakeSubmission: it decides by the record's source how to read it.
        schema: z.unknown(),
        source: 'intake',
        sequential: false,
        handle: async (_message, record, deps) => {
          const redriveOf = record.messageAttributes?.[REDRIVE_OF_ATTRIBUTE]?.stringValue;
          const { request, trigger } = intakeSubmission(deps.catalog, {
            ...record,
            messageId: redriveOf ?? record.messageId,
          });
          await submitJob(deps, request, trigger);
        },
      }),
    );
}

export const handler = createIntakeHandler(lambdaDeps);
