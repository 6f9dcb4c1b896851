import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchClient, DescribeJobsCommand } from '@aws-sdk/client-batch';
import {
  CloudWatchLogsClient,
  GetLogEventsCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-cloudwatch-logs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudWatchLogReader } from '../../src/aws/cloudwatch-log-reader.js';
import { signRequest } from '../../src/cli/signer.js';
import { buildCatalogData, Catalog } from '../../src/core/catalog.js';
import { silentLog } from '../../src/core/deps.js';
import { deliverNotifications, signWebhook, verifyWebhookSignature } from '../../src/core/services/notify.js';
import { LocalLogReader } from '../../src/local/local-log-reader.js';
import type { NotificationSender } from '../../src/ports/notification-sender.js';
import { fixture } from './support/fixtures.js';

describe('SigV4 signer (the CLI and the dashboard)', () => {
  it('reproduces the AWS get-vanilla test vector', async () => {
    const vector = fixture<{
      credentials: { accessKeyId: string; secretAccessKey: string };
      timestamp: string;
      region: string;
      service: string;
      authorizationHeader: string;
    }>('sigv4-test-vector.json');
    const headers = await signRequest(
      { method: 'GET', url: new URL('https://example.amazonaws.com/') },
      {
        credentials: vector.credentials,
        region: vector.region,
        service: vector.service,
        signingDate: new Date(vector.timestamp),
        signBody: false,
      },
    );
    expect(headers.authorization).toBe(vector.authorizationHeader);
    expect(headers['x-amz-date']).toBe('20150830T123600Z');
  });

  it('adds the session token of temporary credentials', async () => {
    const headers = await signRequest(
      {
        method: 'POST',
        url: new URL('https://abc.execute-api.eu-west-1.amazonaws.com/jobs?limit=2'),
        body: '{}',
      },
      {
        credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret', sessionToken: 'token' },
        region: 'eu-west-1',
      },
    );
    expect(headers['x-amz-security-token']).toBe('token');
    expect(headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKID\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
    );
  });
});

describe('LocalLogReader', () => {
  let dir: string;
  const jobId = '01JAAAAAAAAAAAAAAAAAAAAAAA';
  const query = { jobId, jobType: 'hello', executorJobId: 'exec-1', logStream: `logs/${jobId}/exec-1.log` };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'offpeak-logs-'));
    await mkdir(join(dir, 'logs', jobId), { recursive: true });
    await writeFile(
      join(dir, 'logs', jobId, 'exec-1.log'),
      'one\ntwo\n2026-11-23T10:00:00.000Z three\nfour without newline',
    );
    await writeFile(join(dir, 'logs', jobId, 'exec-1:2.log'), 'chunk two\n');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('pages whole lines with a byte cursor, holding back a line still being written', async () => {
    const reader = new LocalLogReader(dir);
    const first = await reader.read({ ...query, limit: 2 });
    expect(first.lines).toEqual([{ message: 'one' }, { message: 'two' }]);
    const second = await reader.read({ ...query, limit: 10, cursor: first.nextCursor });
    expect(second.lines).toEqual([{ timestamp: '2026-11-23T10:00:00.000Z', message: 'three' }]);
    const third = await reader.read({ ...query, limit: 10, cursor: second.nextCursor });
    expect(third.lines).toEqual([]);
    expect(third.nextCursor).toBe(second.nextCursor);
  });

  it('returns the last line without a newline once the attempt is over (final), from a cursor or as a tail', async () => {
    const reader = new LocalLogReader(dir);
    const whole = await reader.read({ ...query, limit: 10, final: true });
    expect(whole.lines.map((l) => l.message)).toEqual(['one', 'two', 'three', 'four without newline']);
    const tail = await reader.read({ ...query, limit: 2, tail: true, final: true });
    expect(tail.lines.map((l) => l.message)).toEqual(['three', 'four without newline']);
    const rest = await reader.read({ ...query, limit: 10, cursor: tail.nextCursor, final: true });
    expect(rest.lines).toEqual([]); // nothing twice
  });

  it('tails, reads a chunk, and refuses streams outside the logs folder and bad cursors', async () => {
    const reader = new LocalLogReader(dir);
    expect((await reader.read({ ...query, limit: 2, tail: true })).lines.map((l) => l.message)).toEqual([
      'two',
      'three',
    ]);
    expect((await reader.read({ ...query, chunk: 2, limit: 5 })).lines).toEqual([{ message: 'chunk two' }]);
    expect(await reader.read({ ...query, logStream: '../../etc/passwd', limit: 5 })).toEqual({
      lines: [],
      found: false,
    });
    expect(
      (
        await reader.read({
          ...query,
          executorJobId: 'exec-9',
          logStream: `logs/${jobId}/exec-9.log`,
          limit: 5,
        })
      ).found,
    ).toBe(false);
    await expect(reader.read({ ...query, limit: 5, cursor: 'abc' })).rejects.toThrow(
      'log cursor is malformed',
    );
  });
});

describe('CloudWatchLogReader', () => {
  const logs = mockClient(CloudWatchLogsClient);
  const batch = mockClient(BatchClient);
  const reader = new CloudWatchLogReader({
    client: new CloudWatchLogsClient({ region: 'eu-west-1' }),
    batch: new BatchClient({ region: 'eu-west-1' }),
    logGroups: { hello: '/offpeak/jobs/hello' },
  });
  const query = {
    jobId: 'j',
    jobType: 'hello',
    executorJobId: 'batch-1',
    logStream: 'hello/default/task1',
    limit: 100,
  };

  it('reads the attempt stream from its head and continues with the forward token', async () => {
    logs.reset();
    logs.on(GetLogEventsCommand).resolves({
      events: [{ timestamp: 1_795_000_000_000, message: 'hello, world\n' }],
      nextForwardToken: 'f/123/s',
    });
    const page = await reader.read(query);
    expect(page).toEqual({
      lines: [{ timestamp: new Date(1_795_000_000_000).toISOString(), message: 'hello, world' }],
      nextCursor: 'f/123/s',
      location: 'cloudwatch:///offpeak/jobs/hello/hello/default/task1',
      found: true,
    });
    await reader.read({ ...query, cursor: 'f/123/s' });
    expect(logs.commandCalls(GetLogEventsCommand).map((c) => c.args[0].input)).toEqual([
      {
        logGroupName: '/offpeak/jobs/hello',
        logStreamName: 'hello/default/task1',
        limit: 100,
        startFromHead: true,
      },
      {
        logGroupName: '/offpeak/jobs/hello',
        logStreamName: 'hello/default/task1',
        limit: 100,
        startFromHead: true,
        nextToken: 'f/123/s',
      },
    ]);
  });

  it('tails from the end, finds a chunk stream with DescribeJobs, and reports a missing stream as not found', async () => {
    logs.reset();
    batch.reset();
    logs.on(GetLogEventsCommand).resolves({ events: [] });
    batch.on(DescribeJobsCommand, { jobs: ['batch-1:7'] }).resolves({
      jobs: [
        {
          jobId: 'batch-1:7',
          jobName: 'n',
          jobQueue: 'q',
          status: 'RUNNING',
          startedAt: 1,
          jobDefinition: 'd',
          container: { logStreamName: 'hello/default/task7' },
        },
      ],
    });
    await reader.read({ ...query, tail: true });
    await reader.read({ ...query, chunk: 7 });
    expect(
      logs
        .commandCalls(GetLogEventsCommand)
        .map((c) => [c.args[0].input.startFromHead, c.args[0].input.logStreamName]),
    ).toEqual([
      [false, 'hello/default/task1'],
      [true, 'hello/default/task7'],
    ]);
    logs
      .on(GetLogEventsCommand)
      .rejects(
        new ResourceNotFoundException({ message: 'The specified log stream does not exist.', $metadata: {} }),
      );
    expect((await reader.read(query)).found).toBe(false);
    expect(await reader.read({ ...query, jobType: 'unknown' })).toEqual({ lines: [], found: false });
  });
});

describe('notifications', () => {
  const catalog = new Catalog(
    buildCatalogData({
      jobTypes: [
        {
          name: 'settle',
          image: 'i',
          command: ['c'],
          notifications: [
            { snsTopicArn: 'arn:aws:sns:eu-west-1:123456789012:oncall' },
            {
              on: ['SUCCEEDED', 'FAILED'],
              webhook: { url: 'https://hooks.example.com/x', secretEnv: 'HOOK_SECRET' },
            },
          ],
        },
      ],
    }),
  );
  const event = (detailType: string) => ({
    'detail-type': detailType,
    time: '2026-11-23T10:00:00Z',
    detail: {
      jobId: '01JAAAAAAAAAAAAAAAAAAAAAAA',
      type: 'settle',
      state: detailType === 'Job Failed' ? 'FAILED' : 'SUCCEEDED',
      attempt: 2,
      exitCode: 3,
      statusReason: 'boom',
    },
  });

  function recordingSender() {
    const sent: { kind: string; target: string; body: string; headers?: Record<string, string> }[] = [];
    const sender: NotificationSender = {
      publishSns: async (target, subject, message) =>
        void sent.push({ kind: 'sns', target, body: `${subject}\n${message}` }),
      postWebhook: async (target, body, headers) =>
        void sent.push({ kind: 'webhook', target, body, headers: { ...headers } }),
      webhookSecret: async () => 'shh',
    };
    return { sent, sender };
  }

  it('sends a failure to SNS and to the signed webhook, with a link to the job', async () => {
    const { sent, sender } = recordingSender();
    const now = new Date('2026-11-23T10:00:05Z');
    const count = await deliverNotifications(
      { catalog, sender, log: silentLog, now: () => now },
      event('Job Failed'),
      'https://offpeak.example.com/',
    );
    expect(count).toBe(2);
    expect(sent[0]).toMatchObject({ kind: 'sns', target: 'arn:aws:sns:eu-west-1:123456789012:oncall' });
    expect(sent[0]?.body).toContain('Details: https://offpeak.example.com/#/jobs/01JAAAAAAAAAAAAAAAAAAAAAAA');
    const hook = sent[1]!;
    expect(JSON.parse(hook.body)).toMatchObject({
      event: 'Job Failed',
      jobId: '01JAAAAAAAAAAAAAAAAAAAAAAA',
      state: 'FAILED',
      exitCode: 3,
      url: 'https://offpeak.example.com/#/jobs/01JAAAAAAAAAAAAAAAAAAAAAAA',
    });
    expect(verifyWebhookSignature(hook.body, hook.headers!, 'shh', 1_795_399_210)).toBe(false); // far from its timestamp
    expect(verifyWebhookSignature(hook.body, hook.headers!, 'shh', now.getTime() / 1000)).toBe(true);
    expect(verifyWebhookSignature(`${hook.body} `, hook.headers!, 'shh', now.getTime() / 1000)).toBe(false);
    expect(verifyWebhookSignature(hook.body, hook.headers!, 'other', now.getTime() / 1000)).toBe(false);
  });

  it('sends a success only where asked, nothing for other types, and rethrows a failed delivery', async () => {
    const { sent, sender } = recordingSender();
    const deps = { catalog, sender, log: silentLog, now: () => new Date() };
    expect(await deliverNotifications(deps, event('Job Succeeded'))).toBe(1);
    expect(sent.map((s) => s.kind)).toEqual(['webhook']);
    expect(await deliverNotifications(deps, { ...event('Job Failed'), detail: { type: 'other' } })).toBe(0);
    const failing = {
      ...deps,
      sender: { ...sender, publishSns: async () => Promise.reject(new Error('throttled')) },
    };
    await expect(deliverNotifications(failing, event('Job Failed'))).rejects.toThrow(
      '1 of 2 notifications failed',
    );
  });

  it('signs HMAC-SHA256 over "<timestamp>.<body>"', () => {
    expect(signWebhook('{}', 'secret', 1_700_000_000)).toEqual({
      'x-offpeak-timestamp': '1700000000',
      // printf '1700000000.{}' | openssl dgst -sha256 -hmac secret
      'x-offpeak-signature': 'v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163',
    });
  });
});
