import { Stack } from 'aws-cdk-lib';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import { Construct } from 'constructs';
import { EnvVars } from '../src/aws/table-schema.js';
import type { MessageSource } from '../src/core/dead-letter.js';
import { coreFunction, type OffpeakRuntime } from './core-function.js';
import type { OffpeakFunction } from './offpeak-function.js';
import { lambdaEntry } from './paths.js';
import { type DeadLetterQueue, deadLetterConsumer } from './queues.js';

/** Props of {@link OffpeakDeadLetters}. */
export interface OffpeakDeadLettersProps {
  readonly runtime: OffpeakRuntime;
  /**
   * Every dead-letter queue, by role: `intake`, `dispatch`, `events` (Offpeak's work queues) and
   * `eventbridge-targets` (EventBridge's target DLQ).
   */
  readonly deadLetterQueues: readonly DeadLetterQueue[];
}

/** The dead-letter source (lambdas/dead-letters.ts) of each DLQ name. */
const SOURCE_OF: Readonly<Record<string, MessageSource>> = {
  intake: 'intake',
  dispatch: 'dispatch',
  events: 'events',
  'eventbridge-targets': 'eventbridge',
};

/**
 * The dead-letter ingester (issue 6): one Lambda consuming every dead-letter queue, recording each message as a
 * dead letter in the job table (original body, attributes, receive count, reason) so that `GET /dead-letters` lists
 * it and `POST /dead-letters/redrive` can send it back. Partial batch failures: a message it cannot record stays in
 * its DLQ (kept 14 days, and alarmed) and is retried.
 */
export class OffpeakDeadLetters extends Construct {
  readonly ingester: OffpeakFunction;

  constructor(scope: Construct, id: string, props: OffpeakDeadLettersProps) {
    super(scope, id);
    this.ingester = coreFunction(this, 'Ingester', props.runtime, {
      entry: lambdaEntry('dead-letters'),
      description:
        'Offpeak dead-letter ingester: records every message of the dead-letter queues as a dead letter',
      timeout: deadLetterConsumer.timeout,
    });
    const sourcesByArn: Record<string, string> = {};
    for (const { name, queue } of props.deadLetterQueues) {
      const source = SOURCE_OF[name];
      if (!source) throw new Error(`No dead-letter source for the ${name} dead-letter queue`);
      sourcesByArn[queue.queueArn] = source;
      queue.grantConsumeMessages(this.ingester.role);
      this.ingester.function.addEventSource(
        new sources.SqsEventSource(queue, {
          batchSize: 10,
          maxBatchingWindow: deadLetterConsumer.maxBatchingWindow,
          reportBatchItemFailures: true,
        }),
      );
    }
    this.ingester.addEnvironment(EnvVars.deadLetterSources, Stack.of(this).toJsonString(sourcesByArn));
  }
}
