import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { userInfo } from 'node:os';
import { extname, join, resolve, sep } from 'node:path';
import type { APIGatewayProxyEventV2WithIAMAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { type Log, silentLog } from '../core/deps.js';
import { createLambdaContext, type LambdaHandler, LocalAws } from './lambda-context.js';

/** One route of the HTTP API, as API Gateway declares it (`{name}` parameters, `{name+}` greedy). */
export interface HttpRoute {
  readonly method: string;
  readonly path: string;
}

/** A matched route: the `routeKey` API Gateway puts on the event and the decoded path parameters. */
export interface RouteMatch {
  readonly routeKey: string;
  readonly pathParameters?: Record<string, string>;
}

/** The IAM principal requests are attributed to (API Gateway's `requestContext.authorizer.iam`). */
export interface LocalPrincipal {
  readonly accessKey: string;
  readonly accountId: string;
  readonly callerId: string;
  readonly userArn: string;
  readonly userId: string;
}

/** The API handler as the local server calls it (`APIGatewayProxyResultV2`: structured, a string, or an object). */
export type HttpApiHandler = LambdaHandler<APIGatewayProxyEventV2WithIAMAuthorizer, unknown>;

export interface LocalHttpServerOptions {
  readonly handler: HttpApiHandler;
  /** The API's routes; without them every request goes to the handler as route `$default`. */
  readonly routes?: readonly HttpRoute[];
  /** @default 0 (a free port) */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Larger request bodies are refused with 413 before they are read. @default 10 MiB (API Gateway's limit) */
  readonly maxBodyBytes?: number;
  /** Serves GET requests no route matches from this directory (`/` → `index.html`): the dashboard. @default none */
  readonly staticDir?: string;
  /** @default the local OS user as `arn:aws:iam::000000000000:user/<name>` */
  readonly principal?: LocalPrincipal;
  /** @default 'offpeak-api' */
  readonly functionName?: string;
  /** Integration timeout the Lambda context counts down from (API Gateway allows 30 s). @default 30_000 */
  readonly timeoutMs?: number;
  readonly log?: Log;
}

export interface LocalHttpServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  /** Stops accepting connections and closes idle ones; resolves when in-flight requests are done. */
  close(): Promise<void>;
}

/** The parts of an HTTP request the event is built from (a plain object, so the mapping is testable alone). */
export interface RawHttpRequest {
  readonly method: string;
  /** Path and query as received, e.g. `/jobs?state=QUEUED`. */
  readonly url: string;
  /** Node's `rawHeaders`: name, value, name, value, … */
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
  readonly sourceIp: string;
  /** e.g. `1.1` */
  readonly httpVersion: string;
  /** Server port, for `x-forwarded-port`. */
  readonly localPort?: number;
}

const DEFAULT_MAX_BODY = 10 * 1024 * 1024;
const API_ID = 'local';

/**
 * Serves the Offpeak HTTP API on localhost the way API Gateway (HTTP API, payload 2.0, IAM auth) fronts the API
 * Lambda: each request becomes a v2 event with its matched `routeKey` and `pathParameters`, the handler's result
 * is written back. Unknown routes get 404 and oversized bodies 413, both as JSON `{error, message}`.
 *
 * @example
 * const http = await startHttpServer({ handler: createApiHandler(() => deps), routes: apiRoutes, port: 8787 });
 * console.log(http.url);
 * await http.close();
 */
export async function startHttpServer(options: LocalHttpServerOptions): Promise<LocalHttpServer> {
  const host = options.host ?? '127.0.0.1';
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const principal = options.principal ?? localPrincipal();
  const log = options.log ?? silentLog;
  const staticRoot = options.staticDir === undefined ? undefined : resolve(options.staticDir);

  const server = createServer((req, res) => {
    void serve(req, res).catch((error: unknown) => {
      log.error('HTTP request failed', { error: String(error) });
      if (!res.headersSent)
        sendJson(res, 500, { error: 'InternalServerError', message: 'Internal Server Error' });
      else res.destroy();
    });
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const path = pathOf(req.url ?? '/');
    const route = options.routes ? matchRoute(options.routes, method, path) : { routeKey: '$default' };
    if (!route) {
      if (
        staticRoot &&
        (method === 'GET' || method === 'HEAD') &&
        (await serveStatic(staticRoot, path, req, res))
      )
        return;
      req.resume();
      sendJson(res, 404, { error: 'RouteNotFound', message: `No route ${method} ${path}` });
      return;
    }
    const body = await readBody(req, res, maxBodyBytes);
    if (body === undefined) return; // answered 413
    const event = buildHttpApiEvent(
      {
        method,
        url: req.url ?? '/',
        rawHeaders: req.rawHeaders,
        body,
        sourceIp: normalizeIp(req.socket.remoteAddress),
        httpVersion: req.httpVersion,
        localPort: req.socket.localPort,
      },
      route,
      principal,
    );
    const context = createLambdaContext({
      functionName: options.functionName ?? 'offpeak-api',
      timeoutMs: options.timeoutMs ?? 30_000,
    });
    let result: unknown;
    try {
      result = await options.handler(event, context);
    } catch (error) {
      log.error('API handler threw', { routeKey: route.routeKey, error: String(error) });
      sendJson(res, 500, { error: 'InternalServerError', message: 'Internal Server Error' });
      return;
    }
    writeResult(res, result, event.requestContext.requestId);
  }

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    server,
    close() {
      closing ??= new Promise<void>((r) => {
        server.close(() => r());
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

/**
 * Picks the route API Gateway would: same method (or `ANY`), most literal segments first, greedy `{name+}` last.
 * @returns undefined when no route matches (API Gateway answers 404).
 */
export function matchRoute(
  routes: readonly HttpRoute[],
  method: string,
  path: string,
): RouteMatch | undefined {
  const segments = splitPath(path);
  let best: { match: RouteMatch; score: number } | undefined;
  for (const route of routes) {
    const routeMethod = route.method.toUpperCase();
    if (routeMethod !== method && routeMethod !== 'ANY') continue;
    const params = matchPath(splitPath(route.path), segments);
    if (!params) continue;
    const literal = splitPath(route.path).filter((s) => !s.startsWith('{')).length;
    const greedy = route.path.includes('+}');
    const score = literal * 4 + (greedy ? 0 : 2) + (routeMethod === 'ANY' ? 0 : 1);
    if (!best || score > best.score) {
      best = {
        score,
        match: {
          routeKey: `${routeMethod} ${route.path}`,
          ...(Object.keys(params).length > 0 ? { pathParameters: params } : {}),
        },
      };
    }
  }
  return best?.match;
}

function matchPath(
  pattern: readonly string[],
  segments: readonly string[],
): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const part = pattern[i]!;
    const greedy = /^\{(.+)\+\}$/.exec(part);
    if (greedy && i === pattern.length - 1) {
      if (segments.length <= i) return undefined;
      params[greedy[1]!] = segments.slice(i).map(safeDecode).join('/');
      return params;
    }
    const segment = segments[i];
    if (segment === undefined) return undefined;
    const param = /^\{(.+)\}$/.exec(part);
    if (param) params[param[1]!] = safeDecode(segment);
    else if (part !== segment) return undefined;
  }
  return segments.length === pattern.length ? params : undefined;
}

/**
 * Maps an HTTP request to an API Gateway HTTP API payload 2.0 event with an IAM authorizer, as API Gateway
 * builds it: lower-cased headers (repeated ones joined by commas), `cookies` taken out of the headers, repeated
 * query parameters joined by commas, text bodies as is and binary ones base64-encoded.
 */
export function buildHttpApiEvent(
  request: RawHttpRequest,
  route: RouteMatch,
  principal: LocalPrincipal = localPrincipal(),
  now: Date = new Date(),
): APIGatewayProxyEventV2WithIAMAuthorizer {
  const headers: Record<string, string> = {};
  for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i]!.toLowerCase();
    const value = request.rawHeaders[i + 1]!;
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  const cookieHeader = headers.cookie;
  delete headers.cookie;
  const cookies = cookieHeader
    ?.split(/;\s*|,/)
    .map((c) => c.trim())
    .filter((c) => c.length > 0);
  const requestId = randomBytes(10).toString('base64');
  headers['x-forwarded-for'] = headers['x-forwarded-for']
    ? `${headers['x-forwarded-for']}, ${request.sourceIp}`
    : request.sourceIp;
  headers['x-forwarded-proto'] ??= 'http';
  if (request.localPort !== undefined) headers['x-forwarded-port'] ??= String(request.localPort);
  headers['x-amzn-trace-id'] ??=
    `Root=1-${Math.floor(now.getTime() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;

  const queryIndex = request.url.indexOf('?');
  const rawPath = pathOf(request.url);
  const rawQueryString = queryIndex >= 0 ? request.url.slice(queryIndex + 1) : '';
  const query: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(rawQueryString)) {
    query[key] = query[key] === undefined ? value : `${query[key]},${value}`;
  }

  const host = headers.host ?? `127.0.0.1${request.localPort ? `:${request.localPort}` : ''}`;
  const binary = request.body.length > 0 && !isTextBody(headers['content-type'], request.body);
  return {
    version: '2.0',
    routeKey: route.routeKey,
    rawPath,
    rawQueryString,
    ...(cookies && cookies.length > 0 ? { cookies } : {}),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: principal.accountId,
      apiId: API_ID,
      authorizer: {
        iam: {
          accessKey: principal.accessKey,
          accountId: principal.accountId,
          callerId: principal.callerId,
          cognitoIdentity: null,
          // API Gateway sends null when the caller is not in an organization; the published type says string.
          principalOrgId: null as unknown as string,
          userArn: principal.userArn,
          userId: principal.userId,
        },
      },
      domainName: host,
      domainPrefix: host.split('.')[0]?.split(':')[0] ?? host,
      http: {
        method: request.method,
        path: rawPath,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: route.routeKey,
      stage: '$default',
      time: apiGatewayTime(now),
      timeEpoch: now.getTime(),
    },
    ...(route.pathParameters ? { pathParameters: route.pathParameters } : {}),
    ...(request.body.length > 0
      ? { body: binary ? request.body.toString('base64') : request.body.toString('utf8') }
      : {}),
    isBase64Encoded: binary,
  };
}

/** The local OS user as an IAM principal, so jobs submitted locally name who submitted them. */
export function localPrincipal(): LocalPrincipal {
  let name = 'local';
  try {
    name = userInfo().username.replace(/[^\w+=,.@-]/g, '') || 'local';
  } catch {
    // no passwd entry (some containers): keep "local"
  }
  return {
    accessKey: 'LOCAL',
    accountId: LocalAws.accountId,
    callerId: `LOCAL:${name}`,
    userArn: `arn:aws:iam::${LocalAws.accountId}:user/${name}`,
    userId: `LOCAL:${name}`,
  };
}

/**
 * Writes a handler result as API Gateway does for payload 2.0: a structured result (with `statusCode`) as
 * given; any other value as a 200 JSON body.
 */
function writeResult(res: ServerResponse, result: unknown, requestId: string): void {
  res.setHeader('apigw-requestid', requestId);
  const structured =
    result !== null && typeof result === 'object' && 'statusCode' in result
      ? (result as APIGatewayProxyStructuredResultV2)
      : undefined;
  if (!structured) {
    const body = typeof result === 'string' ? result : (JSON.stringify(result) ?? '');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
    return;
  }
  for (const [name, value] of Object.entries(structured.headers ?? {})) res.setHeader(name, String(value));
  if (structured.cookies && structured.cookies.length > 0) res.setHeader('set-cookie', structured.cookies);
  const body = structured.body ?? '';
  res.writeHead(structured.statusCode ?? 200);
  res.end(structured.isBase64Encoded ? Buffer.from(body, 'base64') : body);
}

/** Reads the body up to `limit` bytes; answers 413 (and returns undefined) past it, before reading the rest. */
async function readBody(
  req: IncomingMessage,
  res: ServerResponse,
  limit: number,
): Promise<Buffer | undefined> {
  const tooLarge = () => {
    sendJson(
      res,
      413,
      { error: 'PayloadTooLarge', message: `Request body exceeds ${limit} bytes` },
      { connection: 'close' },
    );
    // Do not read what is left: close the connection once the answer is out.
    res.once('finish', () => req.socket.destroySoon?.());
  };
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    tooLarge();
    return undefined;
  }
  return new Promise<Buffer | undefined>((resolveBody, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      // Stop reading (no break out of an async iterator: that would destroy the socket before the 413 is out).
      req.off('data', onData);
      req.off('end', onEnd);
      req.pause();
      chunks.length = 0;
      tooLarge();
      resolveBody(undefined);
    };
    const onEnd = () => resolveBody(Buffer.concat(chunks));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', reject);
  });
}

const STATIC_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** Serves a file under `root` (never outside it). @returns false when there is no such file. */
async function serveStatic(
  root: string,
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  let relative: string;
  try {
    relative = decodeURIComponent(path);
  } catch {
    return false;
  }
  if (relative.endsWith('/')) relative += 'index.html';
  const file = resolve(join(root, relative));
  if (file !== root && !file.startsWith(root + sep)) return false;
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) return false;
  req.resume();
  res.writeHead(200, {
    'content-type': STATIC_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
    'content-length': info.size,
    'cache-control': 'no-cache',
  });
  if (req.method === 'HEAD') res.end();
  else createReadStream(file).pipe(res);
  return true;
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

const TEXT_TYPE =
  /^(text\/|application\/(json|[\w.+-]+\+json|xml|[\w.+-]+\+xml|x-www-form-urlencoded|javascript|graphql|x-ndjson|yaml|x-yaml))/i;

/** Text bodies stay text; binary ones are base64-encoded. Without a content type, valid UTF-8 counts as text. */
function isTextBody(contentType: string | undefined, body: Buffer): boolean {
  if (contentType) return TEXT_TYPE.test(contentType.trim());
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(body);
    return true;
  } catch {
    return false;
  }
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  const path = q >= 0 ? url.slice(0, q) : url;
  return path.length > 0 ? path : '/';
}

function splitPath(path: string): string[] {
  return path.split('/').filter((s) => s.length > 0);
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function normalizeIp(ip: string | undefined): string {
  if (!ip) return '127.0.0.1';
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `12/Mar/2020:19:03:58 +0000`, API Gateway's `requestContext.time`. */
function apiGatewayTime(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${pad(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`
  );
}
