/** Delivers notifications: SNS on AWS, HTTPS webhooks everywhere. */
export interface NotificationSender {
  /** Publishes to an SNS topic. */
  publishSns(topicArn: string, subject: string, message: string): Promise<void>;
  /** POSTs `body` to `url` with `headers`; throws unless the answer is 2xx. */
  postWebhook(url: string, body: string, headers: Readonly<Record<string, string>>): Promise<void>;
  /** The signing secret of a webhook (Secrets Manager on AWS, an environment variable locally). */
  webhookSecret(ref: { readonly secretArn?: string; readonly secretEnv?: string }): Promise<string>;
}
