import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { ResolvedConfig } from './config.js';
import { CliError, ExitCode } from './exit-codes.js';
import { type AwsCredentials, signRequest } from './signer.js';

/** What a route is for, to say so when a deployment does not have it. */
export interface RequestOptions {
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly body?: unknown;
  /** Names the feature in the "this deployment has no … route" message, e.g. `schedules`. */
  readonly feature?: string;
  /** @default 30_000 (follow requests wait longer) */
  readonly timeoutMs?: number;
}

type CredentialSource = () => Promise<AwsCredentials>;

/**
 * The Offpeak HTTP API as the CLI uses it: JSON in and out, SigV4-signed for deployed APIs (credentials from
 * the standard AWS chain: env, profile, SSO, container, instance), and every failure turned into a
 * {@link CliError} with a message that says what to do and an exit code scripts can rely on.
 */
export class ApiClient {
  readonly config: ResolvedConfig;
  readonly #credentials: CredentialSource | undefined;

  constructor(config: ResolvedConfig, credentials?: CredentialSource) {
    this.config = config;
    this.#credentials = config.sign
      ? (credentials ?? fromNodeProviderChain(config.profile ? { profile: config.profile } : {}))
      : undefined;
  }

  get<T>(path: string, options: RequestOptions = {}): Promise<T> {
    return this.request<T>('GET', path, options);
  }

  post<T>(path: string, body: unknown = {}, options: RequestOptions = {}): Promise<T> {
    return this.request<T>('POST', path, { ...options, body });
  }

  patch<T>(path: string, body: unknown, options: RequestOptions = {}): Promise<T> {
    return this.request<T>('PATCH', path, { ...options, body });
  }

  delete<T>(path: string, options: RequestOptions = {}): Promise<T> {
    return this.request<T>('DELETE', path, options);
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const url = new URL(path.replace(/^\//, ''), ensureTrailingSlash(this.config.api));
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    let headers: Record<string, string> = {
      accept: 'application/json',
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    };
    if (this.#credentials) headers = await this.#sign(method, url, headers, body);

    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
      });
    } catch (error) {
      throw unreachable(url, error, this.config);
    }
    const text = await response.text();
    let data: unknown;
    const isJson = /json/i.test(response.headers.get('content-type') ?? '');
    if (text.length > 0 && isJson) {
      try {
        data = JSON.parse(text);
      } catch {
        data = undefined;
      }
    }
    if (response.ok) {
      if (text.length > 0 && data === undefined) throw notOffpeak(url, response, this.config);
      return data as T;
    }
    throw httpError(method, path, url, response, data, text, options.feature, this.config);
  }

  async #sign(
    method: string,
    url: URL,
    headers: Record<string, string>,
    body: string | undefined,
  ): Promise<Record<string, string>> {
    if (!this.config.region) {
      throw new CliError(
        ExitCode.Usage,
        `Cannot tell the AWS region of ${url.origin}: pass --region (or set AWS_REGION) for a custom domain.`,
      );
    }
    let credentials: AwsCredentials;
    try {
      credentials = await (this.#credentials as CredentialSource)();
    } catch (error) {
      throw new CliError(
        ExitCode.Auth,
        `No AWS credentials to sign requests to ${url.origin}${this.config.profile ? ` (profile ${this.config.profile})` : ''}: ` +
          `${(error as Error).message}. Set AWS_PROFILE, run "aws sso login" or "aws configure", ` +
          'or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.',
      );
    }
    return signRequest(
      { method, url, headers, ...(body !== undefined ? { body } : {}) },
      { credentials, region: this.config.region },
    );
  }
}

function ensureTrailingSlash(url: URL): URL {
  const copy = new URL(url);
  if (!copy.pathname.endsWith('/')) copy.pathname += '/';
  copy.search = '';
  return copy;
}

function unreachable(url: URL, error: unknown, config: ResolvedConfig): CliError {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? (error as { name?: string }).name;
  const what =
    code === 'ECONNREFUSED'
      ? 'connection refused'
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
        ? 'host not found'
        : code === 'TimeoutError' || code === 'UND_ERR_CONNECT_TIMEOUT'
          ? 'timed out'
          : (cause?.message ?? (error as Error).message);
  const hint =
    config.source === 'default'
      ? 'Is the local service running? Start it with "offpeak dev" (or "npm start"), or pass --api <url> ' +
        '(the stack output ApiUrl) for a deployed Offpeak.'
      : `Check the URL (from ${config.source === 'flag' ? '--api' : config.source === 'env' ? 'OFFPEAK_API_URL' : 'the config file'}).`;
  return new CliError(ExitCode.Unreachable, `Cannot reach ${url.origin} (${what}). ${hint}`);
}

function notOffpeak(url: URL, response: Response, config: ResolvedConfig): CliError {
  return new CliError(
    ExitCode.Unreachable,
    `${url.origin} answered HTTP ${response.status} (${response.headers.get('content-type') ?? 'no content type'}) ` +
      `but not like an Offpeak API. Check the URL${config.source === 'flag' ? ' given to --api' : ''}.`,
  );
}

function httpError(
  method: string,
  path: string,
  url: URL,
  response: Response,
  data: unknown,
  text: string,
  feature: string | undefined,
  config: ResolvedConfig,
): CliError {
  const body = (data ?? {}) as { error?: string; message?: string; Message?: string };
  const message = body.message ?? body.Message ?? text.slice(0, 200);
  const status = response.status;
  // A route this deployment lacks: the local server says RouteNotFound, API Gateway {"message":"Not Found"}.
  const routeMissing =
    status === 404 &&
    (body.error === 'RouteNotFound' || (body.error === undefined && message === 'Not Found'));
  // Every Offpeak has the core routes (jobs, health): missing one means the URL is not an Offpeak API base URL.
  if (routeMissing && feature === undefined) {
    return new CliError(
      ExitCode.Unreachable,
      `${url.origin} answered ${method} ${routeOf(path)} with 404 ${body.error ?? 'Not Found'}, but not like an ` +
        `Offpeak API (which always has that route). Check the base URL${config.source === 'flag' ? ' given to --api' : ''}: ${config.api.href}`,
      data,
    );
  }
  if (routeMissing) {
    return new CliError(
      ExitCode.Unsupported,
      `This deployment has no ${feature ? `${feature} ` : ''}route yet (${method} ${routeOf(path)} answered 404 ` +
        `${body.error ?? 'Not Found'}). Upgrade the Offpeak at ${url.origin} to a version with ${feature ?? 'this feature'}.`,
      data,
    );
  }
  if (status === 404 && data === undefined) return notOffpeak(url, response, config);
  if (status === 401 || status === 403) {
    return new CliError(
      ExitCode.Auth,
      `${url.origin} refused the request (HTTP ${status}: ${message}). ` +
        (config.sign
          ? `The credentials${config.profile ? ` of profile ${config.profile}` : ''} need execute-api:Invoke on this API, ` +
            `and the region used for signing (${config.region}) must be the API's.`
          : 'The local service needs no credentials; is this really an Offpeak local service?'),
      data,
    );
  }
  const detail = body.error ? `${body.error}: ${message}` : message;
  const exitCode =
    status === 404
      ? ExitCode.NotFound
      : status === 409
        ? ExitCode.Conflict
        : status >= 500
          ? ExitCode.ServerError
          : ExitCode.Usage;
  const details = (data as { details?: unknown } | undefined)?.details;
  const extra =
    Array.isArray(details) && details.length > 0
      ? `\n${details
          .map((d) =>
            typeof d === 'object' && d
              ? `  - ${(d as { path?: string }).path ?? ''}: ${(d as { message?: string }).message ?? JSON.stringify(d)}`
              : `  - ${String(d)}`,
          )
          .join('\n')}`
      : '';
  return new CliError(exitCode, `${detail} (HTTP ${status})${extra}`, data);
}

function routeOf(path: string): string {
  return path.split('?')[0] ?? path;
}
