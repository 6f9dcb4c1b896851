import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { type Clock, systemClock } from '../core/clock.js';
import { NonRetryableError, RetryableError } from '../core/errors.js';
import type { SecretSource } from '../ports/secret-source.js';

export interface SecretsManagerSourceOptions {
  readonly client: SecretsManagerClient;
  /** How long a value is reused before it is read again (rotation takes effect within this). @default 300_000 */
  readonly ttlMs?: number;
  readonly clock?: Clock;
}

/**
 * Webhook secrets from Secrets Manager (`GetSecretValue` on exactly the configured ARNs), cached per Lambda
 * container for `ttlMs`. A secret stored as JSON with a `secret` key yields that key's value; otherwise the string.
 */
export class SecretsManagerSource implements SecretSource {
  readonly #client: SecretsManagerClient;
  readonly #ttlMs: number;
  readonly #clock: Clock;
  readonly #cache = new Map<string, { value: string; readAt: number }>();

  constructor(options: SecretsManagerSourceOptions) {
    this.#client = options.client;
    this.#ttlMs = options.ttlMs ?? 300_000;
    this.#clock = options.clock ?? systemClock;
  }

  async getSecret(arn: string): Promise<string> {
    const now = this.#clock.now().getTime();
    const cached = this.#cache.get(arn);
    if (cached && now - cached.readAt < this.#ttlMs) return cached.value;
    let text: string | undefined;
    try {
      const result = await this.#client.send(new GetSecretValueCommand({ SecretId: arn }));
      text = result.SecretString;
    } catch (error) {
      if (error instanceof ResourceNotFoundException) {
        throw new NonRetryableError('SecretNotFound', `Secret ${arn} does not exist`, { cause: error });
      }
      throw new RetryableError('SecretUnavailable', `Secret ${arn} could not be read`, { cause: error });
    }
    if (!text) throw new NonRetryableError('SecretNotText', `Secret ${arn} has no string value`);
    const value = secretValue(text);
    this.#cache.set(arn, { value, readAt: now });
    return value;
  }
}

/** `{"secret": "…"}` (the console's key/value form) or the plain string. */
export function secretValue(text: string): string {
  if (text.trimStart().startsWith('{')) {
    try {
      const parsed = JSON.parse(text) as Record<string, unknown>;
      if (typeof parsed.secret === 'string') return parsed.secret;
    } catch {
      // not JSON after all: the string is the secret
    }
  }
  return text;
}
