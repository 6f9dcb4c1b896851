import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2WithIAMAuthorizer } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { apiRoutes } from '../../lambdas/api.js';
import {
  buildHttpApiEvent,
  type HttpApiHandler,
  type LocalHttpServer,
  matchRoute,
  startHttpServer,
} from '../../src/local/http-server.js';
import { fixturesDir } from './support/fixtures.js';

const keys = (o: object | undefined) => Object.keys(o ?? {}).sort();

describe('matchRoute', () => {
  it.each([
    ['POST', '/jobs', 'POST /jobs', undefined],
    ['GET', '/jobs', 'GET /jobs', undefined],
    ['GET', '/jobs/01J00000000000000000000000', 'GET /jobs/{id}', { id: '01J00000000000000000000000' }],
    ['POST', '/jobs/abc/cancel', 'POST /jobs/{id}/cancel', { id: 'abc' }],
    ['GET', '/jobs/a%20b', 'GET /jobs/{id}', { id: 'a b' }],
    ['GET', '/job-types', 'GET /job-types', undefined],
  ])('%s %s → %s', (method, path, routeKey, pathParameters) => {
    expect(matchRoute(apiRoutes, method, path)).toEqual({
      routeKey,
      ...(pathParameters ? { pathParameters } : {}),
    });
  });

  it.each([
    ['DELETE', '/jobs'],
    ['GET', '/nope'],
    ['GET', '/jobs/a/b'],
    ['POST', '/jobs/abc'],
  ])('%s %s → no route', (method, path) => {
    expect(matchRoute(apiRoutes, method, path)).toBeUndefined();
  });

  it('prefers literal segments over parameters and parameters over greedy paths; ANY matches any method', () => {
    const routes = [
      { method: 'ANY', path: '/files/{proxy+}' },
      { method: 'GET', path: '/files/{name}' },
      { method: 'GET', path: '/files/latest' },
    ];
    expect(matchRoute(routes, 'GET', '/files/latest')?.routeKey).toBe('GET /files/latest');
    expect(matchRoute(routes, 'GET', '/files/x')).toEqual({
      routeKey: 'GET /files/{name}',
      pathParameters: { name: 'x' },
    });
    expect(matchRoute(routes, 'PUT', '/files/a/b')).toEqual({
      routeKey: 'ANY /files/{proxy+}',
      pathParameters: { proxy: 'a/b' },
    });
  });
});

describe('buildHttpApiEvent', () => {
  const raw = {
    method: 'POST',
    url: '/jobs?parameter1=value1&parameter1=value2&parameter2=value',
    rawHeaders: [
      'Host',
      '127.0.0.1:8787',
      'Content-Type',
      'application/json',
      'User-Agent',
      'curl/8.5.0',
      'X-Multi',
      'a',
      'X-Multi',
      'b',
      'Cookie',
      'cookie1=1; cookie2=2',
    ],
    body: Buffer.from('{"type":"hello"}'),
    sourceIp: '127.0.0.1',
    httpVersion: '1.1',
    localPort: 8787,
  };

  it('has the keys of a real HTTP API v2 event with IAM auth', async () => {
    // Prepare
    const real = JSON.parse(
      await readFile(join(fixturesDir, 'apigw-http-v2-iam.json'), 'utf8'),
    ) as APIGatewayProxyEventV2WithIAMAuthorizer;
    const docs = JSON.parse(
      await readFile(join(fixturesDir, 'apigw-http-v2-post-body.json'), 'utf8'),
    ) as Record<string, unknown>;

    // Act
    const event = buildHttpApiEvent(
      raw,
      { routeKey: 'POST /jobs' },
      undefined,
      new Date('2020-03-12T19:03:58.390Z'),
    );

    // Assess
    expect(keys(event)).toEqual(expect.arrayContaining(keys(real)));
    const optional = ['cookies', 'queryStringParameters', 'body'];
    expect(keys(event)).toEqual(expect.arrayContaining(optional));
    for (const key of keys(event)) expect([...keys(docs), ...keys(real)]).toContain(key);
    expect(keys(event.requestContext)).toEqual(keys(real.requestContext));
    expect(keys(event.requestContext.http)).toEqual(keys(real.requestContext.http));
    expect(keys(event.requestContext.authorizer.iam)).toEqual(keys(real.requestContext.authorizer.iam));
    expect(event.requestContext.authorizer.iam).toMatchObject({
      cognitoIdentity: null,
      principalOrgId: null,
    });
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'POST /jobs',
      rawPath: '/jobs',
      rawQueryString: 'parameter1=value1&parameter1=value2&parameter2=value',
      cookies: ['cookie1=1', 'cookie2=2'],
      queryStringParameters: docs.queryStringParameters as Record<string, string>,
      body: '{"type":"hello"}',
      isBase64Encoded: false,
      requestContext: {
        apiId: 'local',
        stage: '$default',
        routeKey: 'POST /jobs',
        time: '12/Mar/2020:19:03:58 +0000',
        timeEpoch: 1584039838390,
        domainName: '127.0.0.1:8787',
        http: {
          method: 'POST',
          path: '/jobs',
          protocol: 'HTTP/1.1',
          sourceIp: '127.0.0.1',
          userAgent: 'curl/8.5.0',
        },
      },
    });
    expect(event.headers).toMatchObject({
      host: '127.0.0.1:8787',
      'content-type': 'application/json',
      'x-multi': 'a,b',
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-port': '8787',
    });
    expect(event.headers.cookie).toBeUndefined();
    for (const name of Object.keys(event.headers)) expect(name).toBe(name.toLowerCase());
    expect(event.requestContext.authorizer.iam.userArn).toMatch(/^arn:aws:iam::000000000000:user\/.+/);
  });

  it('leaves out body, cookies and query when there are none, and base64-encodes binary bodies', () => {
    const empty = buildHttpApiEvent(
      { ...raw, url: '/jobs', rawHeaders: [], body: Buffer.alloc(0) },
      { routeKey: 'GET /jobs' },
    );
    expect(empty).not.toHaveProperty('body');
    expect(empty).not.toHaveProperty('cookies');
    expect(empty).not.toHaveProperty('queryStringParameters');
    expect(empty.rawQueryString).toBe('');
    expect(empty.isBase64Encoded).toBe(false);

    const bytes = Buffer.from([0xff, 0x00, 0xfe]);
    const binary = buildHttpApiEvent(
      { ...raw, rawHeaders: ['Content-Type', 'application/octet-stream'], body: bytes },
      { routeKey: 'POST /jobs' },
    );
    expect(binary).toMatchObject({ isBase64Encoded: true, body: bytes.toString('base64') });
    const untyped = buildHttpApiEvent({ ...raw, rawHeaders: [], body: bytes }, { routeKey: 'POST /jobs' });
    expect(untyped.isBase64Encoded).toBe(true);
  });
});

describe('startHttpServer', () => {
  let server: LocalHttpServer | undefined;
  let tmp: string | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  function capture(result: unknown | ((event: APIGatewayProxyEventV2WithIAMAuthorizer) => unknown)) {
    const seen: APIGatewayProxyEventV2WithIAMAuthorizer[] = [];
    const handler: HttpApiHandler = async (event) => {
      seen.push(event);
      return typeof result === 'function' ? (result as (e: typeof event) => unknown)(event) : result;
    };
    return { seen, handler };
  }

  it('turns requests into events and writes structured results back', async () => {
    // Prepare
    const { seen, handler } = capture({
      statusCode: 201,
      headers: { 'content-type': 'application/json', location: '/jobs/1', 'x-num': 5 },
      cookies: ['a=1; Path=/', 'b=2'],
      body: '{"id":"1"}',
    });
    server = await startHttpServer({ handler, routes: apiRoutes });

    // Act
    const response = await fetch(`${server.url}/jobs?x=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: 'session=abc' },
      body: '{"type":"hello"}',
    });

    // Assess
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ id: '1' });
    expect(response.headers.get('location')).toBe('/jobs/1');
    expect(response.headers.get('x-num')).toBe('5');
    expect(response.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2']);
    expect(response.headers.get('apigw-requestid')).toBe(seen[0]?.requestContext.requestId);
    expect(seen[0]).toMatchObject({
      routeKey: 'POST /jobs',
      rawPath: '/jobs',
      rawQueryString: 'x=1',
      queryStringParameters: { x: '1' },
      cookies: ['session=abc'],
      body: '{"type":"hello"}',
      isBase64Encoded: false,
      requestContext: {
        http: { method: 'POST', sourceIp: '127.0.0.1' },
        domainName: `127.0.0.1:${server.port}`,
      },
    });
  });

  it('passes path parameters, decodes base64 results and answers a plain value as 200 JSON', async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47]);
    const { seen, handler } = capture((event: APIGatewayProxyEventV2WithIAMAuthorizer) =>
      event.routeKey === 'GET /jobs/{id}'
        ? {
            statusCode: 200,
            headers: { 'content-type': 'image/png' },
            body: png.toString('base64'),
            isBase64Encoded: true,
          }
        : { hello: 'world' },
    );
    server = await startHttpServer({ handler, routes: apiRoutes });

    const image = await fetch(`${server.url}/jobs/01J00000000000000000000000`);
    expect(Buffer.from(await image.arrayBuffer())).toEqual(png);
    expect(seen[0]?.pathParameters).toEqual({ id: '01J00000000000000000000000' });

    const plain = await fetch(`${server.url}/health`);
    expect(plain.status).toBe(200);
    expect(plain.headers.get('content-type')).toBe('application/json');
    expect(await plain.json()).toEqual({ hello: 'world' });
  });

  it('answers unknown routes with 404 {error, message} without calling the handler', async () => {
    const { seen, handler } = capture({ statusCode: 200 });
    server = await startHttpServer({ handler, routes: apiRoutes });
    const response = await fetch(`${server.url}/nope`, { method: 'DELETE' });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: 'RouteNotFound', message: 'No route DELETE /nope' });
    expect(seen).toHaveLength(0);
  });

  it('refuses bodies over the limit with 413, declared or streamed, without calling the handler', async () => {
    // Prepare
    const { seen, handler } = capture({ statusCode: 200 });
    server = await startHttpServer({ handler, routes: apiRoutes, maxBodyBytes: 1024 });
    const { port } = server;

    // Act
    const declared = await fetch(`${server.url}/jobs`, { method: 'POST', body: 'x'.repeat(5000) });
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/jobs' }, (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.write('y'.repeat(800)); // no content-length: chunked
      req.write('y'.repeat(800));
      req.end();
    });
    const small = await fetch(`${server.url}/jobs`, { method: 'POST', body: 'z'.repeat(1000) });

    // Assess
    expect(declared.status).toBe(413);
    expect(await declared.json()).toMatchObject({ error: 'PayloadTooLarge' });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body)).toMatchObject({ error: 'PayloadTooLarge', message: expect.any(String) });
    expect(small.status).toBe(200);
    expect(seen).toHaveLength(1);
  });

  it('answers 500 {error, message} when the handler throws', async () => {
    server = await startHttpServer({
      handler: async () => {
        throw new Error('boom');
      },
      routes: apiRoutes,
    });
    const response = await fetch(`${server.url}/health`);
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: 'InternalServerError', message: 'Internal Server Error' });
  });

  it('serves a static directory for unmatched GETs, never outside it', async () => {
    tmp = await mkdtemp(join(tmpdir(), 'offpeak-static-'));
    await writeFile(join(tmp, 'index.html'), '<h1>dashboard</h1>');
    const { handler } = capture({ statusCode: 200, body: 'api' });
    server = await startHttpServer({ handler, routes: apiRoutes, staticDir: tmp });

    const index = await fetch(`${server.url}/`);
    expect(index.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await index.text()).toBe('<h1>dashboard</h1>');
    expect(await (await fetch(`${server.url}/health`)).text()).toBe('api');
    expect((await fetch(`${server.url}/%2e%2e/%2e%2e/etc/passwd`)).status).toBe(404);
    expect((await fetch(`${server.url}/missing.js`)).status).toBe(404);
  });

  it('sends every request to the handler as $default when no routes are given', async () => {
    const { seen, handler } = capture({ statusCode: 204 });
    server = await startHttpServer({ handler });
    expect((await fetch(`${server.url}/anything/at/all`)).status).toBe(204);
    expect(seen[0]?.routeKey).toBe('$default');
    expect(seen[0]).not.toHaveProperty('pathParameters');
  });
});
