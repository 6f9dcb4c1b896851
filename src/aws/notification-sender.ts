import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { NotificationSender } from '../ports/notification-sender.js';

/** Sends notifications with the SDK (SNS, Secrets Manager) and fetch (webhooks, 10 s timeout). */
export class AwsNotificationSender implements NotificationSender {
  readonly #sns: SNSClient | undefined;
  readonly #secrets: SecretsManagerClient | undefined;
  readonly #env: NodeJS.ProcessEnv;
  readonly #cache = new Map<string, string>();

  constructor(options: { sns?: SNSClient; secrets?: SecretsManagerClient; env?: NodeJS.ProcessEnv }) {
    this.#sns = options.sns;
    this.#secrets = options.secrets;
    this.#env = options.env ?? process.env;
  }

  async publishSns(topicArn: string, subject: string, message: string): Promise<void> {
    if (!this.#sns) throw new Error(`SNS is not available here; cannot notify ${topicArn}`);
    await this.#sns.send(new PublishCommand({ TopicArn: topicArn, Subject: subject, Message: message }));
  }

  async postWebhook(url: string, body: string, headers: Readonly<Record<string, string>>): Promise<void> {
    const response = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
    await response.arrayBuffer().catch(() => undefined);
    if (!response.ok) throw new Error(`Webhook ${new URL(url).origin} answered HTTP ${response.status}`);
  }

  async webhookSecret(ref: { readonly secretArn?: string; readonly secretEnv?: string }): Promise<string> {
    if (ref.secretArn && this.#secrets) {
      const cached = this.#cache.get(ref.secretArn);
      if (cached) return cached;
      const result = await this.#secrets.send(new GetSecretValueCommand({ SecretId: ref.secretArn }));
      if (!result.SecretString) throw new Error(`Secret ${ref.secretArn} has no string value`);
      this.#cache.set(ref.secretArn, result.SecretString);
      return result.SecretString;
    }
    const value = ref.secretEnv ? this.#env[ref.secretEnv] : undefined;
    if (!value)
      throw new Error(
        `No webhook secret: ${ref.secretEnv ? `${ref.secretEnv} is not set` : 'secretArn needs Secrets Manager'}`,
      );
    return value;
  }
}
