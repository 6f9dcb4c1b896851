import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';

/** AWS credentials as the standard provider chain returns them. */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** An HTTP request to sign (headers lower- or mixed-case; `host` is added from the URL). */
export interface RequestToSign {
  readonly method: string;
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface SignOptions {
  readonly credentials: AwsCredentials;
  readonly region: string;
  /** @default 'execute-api' */
  readonly service?: string;
  /** @default now */
  readonly signingDate?: Date;
  /** Sign the payload hash (`x-amz-content-sha256`); API Gateway does not need it. @default true */
  readonly signBody?: boolean;
}

/**
 * Signs a request with AWS Signature Version 4 (`@smithy/signature-v4`, the SDK's own signer, with a pure-JS
 * SHA-256 so it runs the same in Node and the browser). Returns the headers to send, `authorization` and
 * `x-amz-date` (and `x-amz-security-token` with temporary credentials) included.
 *
 * @example
 * const headers = await signRequest({ method: 'GET', url: new URL('https://abc.execute-api.eu-west-1.amazonaws.com/jobs') },
 *   { credentials, region: 'eu-west-1' });
 */
export async function signRequest(
  request: RequestToSign,
  options: SignOptions,
): Promise<Record<string, string>> {
  const signer = new SignatureV4({
    credentials: options.credentials,
    region: options.region,
    service: options.service ?? 'execute-api',
    sha256: Sha256,
    applyChecksum: options.signBody ?? true,
  });
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of request.url.searchParams) {
    const existing = query[key];
    query[key] =
      existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  const signed = await signer.sign(
    {
      method: request.method.toUpperCase(),
      protocol: request.url.protocol,
      hostname: request.url.hostname,
      ...(request.url.port ? { port: Number(request.url.port) } : {}),
      path: request.url.pathname,
      query,
      headers: { host: request.url.host, ...request.headers },
      ...(request.body !== undefined ? { body: request.body } : {}),
    },
    options.signingDate ? { signingDate: options.signingDate } : {},
  );
  return signed.headers as Record<string, string>;
}

/** The region of an `execute-api` URL (`https://<id>.execute-api.<region>.amazonaws.com/…`), if it is one. */
export function regionOfApiUrl(url: URL): string | undefined {
  return /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(url.hostname)?.[1];
}
