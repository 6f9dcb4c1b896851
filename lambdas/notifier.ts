import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { AwsNotificationSender } from '../src/aws/notification-sender.js';
import { EnvVars } from '../src/aws/table-schema.js';
import type { OffpeakDeps } from '../src/core/deps.js';
import { type DeliveredEvent, deliverNotifications } from '../src/core/services/notify.js';
import type { NotificationSender } from '../src/ports/notification-sender.js';
import { logger } from './shared/logger.js';
import { lambdaDeps } from './shared/runtime.js';

/**
 * Notifier Lambda: an EventBridge rule on the Offpeak bus delivers job outcome events of job types with
 * `notifications`; each matching rule is sent to its SNS topic or signed HTTPS webhook, with a link to the job.
 * A failure throws, so EventBridge/Lambda retry and the event ends in the target DLQ (alarmed) if it keeps failing.
 */
export function createNotifierHandler(
  getDeps: () => Pick<OffpeakDeps, 'catalog' | 'log' | 'clock'>,
  getSender: () => NotificationSender,
  dashboardUrl: () => string | undefined = () => process.env[EnvVars.dashboardUrl],
) {
  return middy<DeliveredEvent, { sent: number }, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(async (event) => {
      const deps = getDeps();
      const sent = await deliverNotifications(
        { catalog: deps.catalog, sender: getSender(), log: deps.log, now: () => deps.clock.now() },
        event,
        dashboardUrl(),
      );
      return { sent };
    });
}

let sender: NotificationSender | undefined;

export const handler = createNotifierHandler(lambdaDeps, () => {
  sender ??= new AwsNotificationSender({ sns: new SNSClient({}), secrets: new SecretsManagerClient({}) });
  return sender;
});
