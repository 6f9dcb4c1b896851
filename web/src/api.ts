import { type AwsCredentials, signRequest } from '../../src/cli/signer.js';

/** `config.json` next to the dashboard (written by the CDK construct); absent locally. */
export interface DashboardConfig {
  /** API base URL; empty: the same origin (the local service serves both). */
  readonly apiUrl: string;
  /** How requests are authorized: none (local), or SigV4 with Cognito identity-pool credentials. */
  readonly auth: 'none' | 'cognito';
  readonly region?: string;
  readonly userPoolId?: string;
  readonly userPoolClientId?: string;
  readonly identityPoolId?: string;
}

/** An API error with what the views need to explain it. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
  /** The deployment has no such route (an older Offpeak, or a feature not merged yet). */
  get routeMissing(): boolean {
    return this.status === 404 && (this.code === 'RouteNotFound' || this.code === 'Not Found');
  }
}

export type CredentialsProvider = () => Promise<AwsCredentials>;

/** JSON requests to the Offpeak API, signed when the dashboard runs against a deployed (IAM) API. */
export class Api {
  readonly #base: string;
  readonly #region: string | undefined;
  #credentials: CredentialsProvider | undefined;

  constructor(config: DashboardConfig) {
    this.#base = config.apiUrl ? config.apiUrl.replace(/\/$/, '') : window.location.origin;
    this.#region = config.region;
  }

  useCredentials(provider: CredentialsProvider | undefined): void {
    this.#credentials = provider;
  }

  get<T>(path: string, query: Record<string, string | number | boolean | undefined> = {}): Promise<T> {
    return this.request<T>('GET', path, undefined, query);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }

  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    query: Record<string, string | number | boolean | undefined> = {},
  ): Promise<T> {
    const url = new URL(`${this.#base}${path}`);
    for (const [key, value] of Object.entries(query))
      if (value !== undefined && value !== '') url.searchParams.set(key, String(value));
    const text = body === undefined ? undefined : JSON.stringify(body);
    let headers: Record<string, string> = {
      accept: 'application/json',
      ...(text !== undefined ? { 'content-type': 'application/json' } : {}),
    };
    if (this.#credentials && this.#region) {
      const signed = await signRequest(
        { method, url, headers, ...(text !== undefined ? { body: text } : {}) },
        { credentials: await this.#credentials(), region: this.#region },
      );
      // Browsers set Host themselves and refuse to let scripts set it.
      const { host: _host, ...rest } = signed;
      headers = rest;
    }
    let response: Response;
    try {
      response = await fetch(url, { method, headers, ...(text !== undefined ? { body: text } : {}) });
    } catch (error) {
      throw new ApiError(
        0,
        'Unreachable',
        `Cannot reach the Offpeak API at ${url.origin}: ${(error as Error).message}`,
      );
    }
    const raw = await response.text();
    let data: unknown;
    try {
      data = raw ? JSON.parse(raw) : undefined;
    } catch {
      data = undefined;
    }
    if (!response.ok) {
      const err = (data ?? {}) as { error?: string; message?: string };
      throw new ApiError(
        response.status,
        err.error ?? err.message ?? `HTTP ${response.status}`,
        err.message ?? `HTTP ${response.status}`,
      );
    }
    return data as T;
  }
}

/** Reads `config.json`; without one (the local service) the API is the same origin, without auth. */
export async function loadConfig(): Promise<DashboardConfig> {
  try {
    const response = await fetch('config.json', { cache: 'no-store' });
    if (response.ok) return (await response.json()) as DashboardConfig;
  } catch {
    // no config: local mode
  }
  return { apiUrl: '', auth: 'none' };
}
