import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { BatchJobStateChangeSchema, toExecutorJob } from '../src/core/batch-event.js';
import type { OffpeakDeps } from '../src/core/deps.js';
import { applyExecutorUpdate } from '../src/core/services/track.js';
import { applyChildRecords } from './shared/chunk-events.js';
import { logger } from './shared/logger.js';
import { lambdaDeps } from './shared/runtime.js';
import { sqsConsumer } from './shared/sqs.js';

/**
 * Tracker Lambda: Batch "Job State Change" events (EventBridge rule → events queue) move jobs through their
 * states. Records are applied in order; duplicates and stale events are no-ops by the transition table.
 */
export function createTrackerHandler(getDeps: () => OffpeakDeps) {
  const perRecord = sqsConsumer(getDeps, {
    schema: BatchJobStateChangeSchema,
    source: 'events',
    sequential: true,
    handle: async (event, record, deps) => {
      const outcome = await applyExecutorUpdate(deps, toExecutorJob(event));
      deps.log.debug('State change applied', { messageId: record.messageId, ...outcome });
    },
  });
  return middy<SQSEvent, SQSBatchResponse, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(async (event) => {
      // Array children (chunks) first, aggregated per job; then every other record in order.
      const children = await applyChildRecords(getDeps(), event.Records);
      if (children.rest.length === 0) return { batchItemFailures: children.failures };
      const response = await perRecord({ ...event, Records: children.rest });
      return { batchItemFailures: [...children.failures, ...response.batchItemFailures] };
    });
}

export const handler = createTrackerHandler(lambdaDeps);
