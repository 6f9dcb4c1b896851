import { readFile } from 'node:fs/promises';
import { NonRetryableError, RetryableError } from '../core/errors.js';
import type { SecretSource } from '../ports/secret-source.js';

export interface LocalSecretSourceOptions {
  /** JSON object: secret ARN or secret name → value. @default none */
  readonly file?: string;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Webhook secrets under `npm start`: the ARN configured for a hook is looked up, in order, in the secrets file
 * (`.offpeak/secrets.json`: `{"<ARN or secret name>": "<value>"}`) and in the environment variable
 * `OFFPEAK_SECRET_<SECRET NAME>` (upper-cased, non-alphanumerics as `_`; `offpeak/github-hook` →
 * `OFFPEAK_SECRET_OFFPEAK_GITHUB_HOOK`). The file is read on every call, so editing it needs no restart.
 */
export class LocalSecretSource implements SecretSource {
  readonly #file: string | undefined;
  readonly #env: NodeJS.ProcessEnv;

  constructor(options: LocalSecretSourceOptions = {}) {
    this.#file = options.file;
    this.#env = options.env ?? process.env;
  }

  async getSecret(arn: string): Promise<string> {
    const name = secretName(arn);
    const fromFile = await this.#fromFile();
    const value = fromFile[arn] ?? fromFile[name] ?? this.#env[secretEnvName(name)];
    if (typeof value === 'string' && value.length > 0) return value;
    throw new NonRetryableError(
      'SecretNotFound',
      `No local value for secret ${name}: add "${name}" to ${this.#file ?? 'a secrets file'} or set ${secretEnvName(name)}`,
    );
  }

  async #fromFile(): Promise<Record<string, unknown>> {
    if (!this.#file) return {};
    let text: string;
    try {
      text = await readFile(this.#file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new RetryableError('SecretUnavailable', `Cannot read ${this.#file}`, { cause: error });
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
        return parsed as Record<string, unknown>;
      }
    } catch {
      // reported below
    }
    throw new NonRetryableError('SecretsFileInvalid', `${this.#file} must be a JSON object of strings`);
  }
}

/** The name of a secret from its ARN (without Secrets Manager's 6-character suffix). */
export function secretName(arn: string): string {
  const name = arn.split(':')[6] ?? arn;
  return name.replace(/-[A-Za-z0-9]{6}$/, '');
}

/** `OFFPEAK_SECRET_<NAME>` for a secret name. */
export function secretEnvName(name: string): string {
  return `OFFPEAK_SECRET_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}
