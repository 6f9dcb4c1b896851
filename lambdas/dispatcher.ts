import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { OffpeakDeps } from '../src/core/deps.js';
import { DispatchMessageSchema } from '../src/core/requests.js';
import {
  type DispatchSummary,
  dispatchAll,
  dispatchQueue,
  releaseRetry,
} from '../src/core/services/dispatch.js';
import { logger } from './shared/logger.js';
import { lambdaDeps } from './shared/runtime.js';
import { sqsConsumer } from './shared/sqs.js';

/** A scheduled invocation (EventBridge Scheduler / rule) rather than an SQS batch. */
interface ScheduledEvent {
  readonly Records?: undefined;
  readonly [key: string]: unknown;
}

/**
 * Dispatcher Lambda: releases QUEUED jobs to the executor. Woken by nudges and delayed retry releases on the
 * dispatch queue, and by a one-minute schedule. Many nudges in one batch cost one pass per queue.
 */
export function createDispatcherHandler(getDeps: () => OffpeakDeps) {
  return middy<
    SQSEvent | ScheduledEvent,
    SQSBatchResponse | { summaries: DispatchSummary[] },
    Error,
    Context
  >()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(async (event) => {
      const deps = getDeps();
      if (!isSqsEvent(event)) {
        const summaries = await dispatchAll(deps);
        deps.log.info('Scheduled dispatch pass', { summaries });
        return { summaries };
      }
      const passes = new Map<string, Promise<unknown>>();
      const once = (key: string, run: () => Promise<unknown>) => {
        const existing = passes.get(key);
        if (existing) return existing;
        const started = run();
        passes.set(key, started);
        return started;
      };
      return sqsConsumer(getDeps, {
        schema: DispatchMessageSchema,
        source: 'dispatch',
        sequential: true,
        handle: async (message) => {
          if (message.kind === 'retry-release') await releaseRetry(deps, message.jobId);
          // Released retries and nudges both end in a dispatch pass of their queue (or of all queues).
          const queue = message.kind === 'nudge' ? message.queue : undefined;
          await once(queue ?? '*', () => (queue ? dispatchQueue(deps, queue) : dispatchAll(deps)));
        },
      })(event);
    });
}

function isSqsEvent(event: SQSEvent | ScheduledEvent): event is SQSEvent {
  return Array.isArray(event.Records);
}

export const handler = createDispatcherHandler(lambdaDeps);
