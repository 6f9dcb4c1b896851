import { createHmac } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { exampleJobTypes } from '../../config/job-types.js';
import { buildCatalogData, Catalog } from '../../src/core/catalog.js';
import { ConflictError, ValidationError } from '../../src/core/errors.js';
import { defaultQueues } from '../../src/core/queue-spec.js';
import { holdJob } from '../../src/core/services/hold.js';
import {
  createSchedule,
  deleteSchedule,
  getSchedule,
  listSchedules,
  updateSchedule,
} from '../../src/core/services/schedules.js';
import { submitJob } from '../../src/core/services/submit.js';
import { receiveWebhook } from '../../src/core/services/webhook.js';
import { CreateScheduleRequestSchema, scheduleMessageTemplate } from '../../src/core/triggers/schedule.js';
import { intakeSubmission } from '../../src/core/triggers/trigger-messages.js';
import { signHmac } from '../../src/core/triggers/webhook-signature.js';
import { type TestDeps, testDeps } from './support/fakes.js';
import { fixture } from './support/fixtures.js';
import { MapSecrets, MemoryScheduleStore, RecordingRegistry } from './support/memory-schedule-store.js';

const GITHUB_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:github-AbCdEf';
const HMAC_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:hmac-AbCdEf';

interface GithubFixture {
  testVector: { secret: string; payload: string; 'X-Hub-Signature-256': string };
  pushDelivery: { secret: string; headers: Record<string, string>; rawBody: string };
}
const github = fixture<GithubFixture>('github-webhook-signature.json');

const catalogData = buildCatalogData({
  jobTypes: exampleJobTypes,
  queues: defaultQueues,
  triggers: {
    schedules: [
      {
        id: 'nightly',
        jobType: 'nightly-backup',
        expression: 'cron(0 2 * * ? *)',
        params: { source: '/data' },
      },
    ],
    uploads: [
      { id: 'greet-uploads', jobType: 'hello', prefix: 'hello/', mapping: { name: 'detail.object.key' } },
    ],
    hooks: [
      {
        id: 'gh-any',
        provider: 'github',
        secretArn: GITHUB_SECRET_ARN,
        jobType: 'hello',
        mapping: { name: 'pusher.name' },
      },
      {
        id: 'gh-main',
        provider: 'github',
        secretArn: GITHUB_SECRET_ARN,
        jobType: 'hello',
        filter: { events: ['push'], branches: ['main'] },
      },
      {
        id: 'signed',
        provider: 'generic-hmac',
        secretArn: HMAC_SECRET_ARN,
        jobType: 'hello',
        signatureHeader: 'X-Signature',
        signaturePrefix: 'sha256=',
        timestampHeader: 'X-Timestamp',
        deliveryIdHeader: 'X-Delivery',
        mapping: '{name: user.name, exitCode: code}',
        maxBodyBytes: 2048,
      },
    ],
    events: [
      {
        id: 'after-backup',
        jobType: 'hello',
        pattern: {
          source: ['offpeak'],
          'detail-type': ['Job Succeeded'],
          detail: { type: ['nightly-backup'] },
        },
        params: { name: 'backup' },
        inputFrom: 'detail.outputUri',
      },
    ],
  },
});

let deps: TestDeps;
let schedules: MemoryScheduleStore;
let registry: RecordingRegistry;
beforeEach(() => {
  schedules = new MemoryScheduleStore();
  registry = new RecordingRegistry();
  deps = testDeps({
    catalog: new Catalog(catalogData),
    triggers: {
      schedules,
      registry,
      secrets: new MapSecrets({
        [GITHUB_SECRET_ARN]: github.pushDelivery.secret,
        [HMAC_SECRET_ARN]: 'hmac-secret',
      }),
    },
  });
});

async function expectError(promise: Promise<unknown>, code: string): Promise<void> {
  await expect(promise).rejects.toMatchObject({ code });
}

const create = (body: unknown) =>
  createSchedule(deps, CreateScheduleRequestSchema.parse(body), 'arn:aws:iam::1:user/ada');

describe('schedules through the API', () => {
  it('stores and registers a schedule, and lists it after the declared ones', async () => {
    const view = await create({
      id: 'hourly',
      jobType: 'hello',
      expression: 'rate(1 hour)',
      params: { name: 'x' },
    });
    expect(view).toMatchObject({
      id: 'hourly',
      origin: 'api',
      state: 'ENABLED',
      catchUp: 'none',
      createdBy: 'arn:aws:iam::1:user/ada',
    });
    expect(view.nextFireAt).toBe('2026-11-23T11:00:00.000Z');
    expect(registry.calls).toEqual(['put hourly']);
    expect((await listSchedules(deps)).map((s) => `${s.origin}:${s.id}`)).toEqual([
      'config:nightly',
      'api:hourly',
    ]);
  });

  it.each([
    [{ jobType: 'hello', expression: 'cron(0 2 * * * *)' }, 'InvalidScheduleExpression'],
    [{ jobType: 'hello', expression: 'cron(0 2 * * ? *)', timezone: 'Mars/Base' }, 'UnknownTimeZone'],
    [{ jobType: 'nope', expression: 'rate(1 hour)' }, 'UnknownJobType'],
    [{ jobType: 'hello', expression: 'rate(1 hour)', params: { nope: 1 } }, 'InvalidParams'],
    [{ jobType: 'hello', expression: 'at(2026-11-23T09:00:00)' }, 'ScheduleInPast'],
    [{ jobType: 'hello', expression: 'cron(0 0 30 2 ? *)' }, 'ScheduleNeverFires'],
    [
      {
        jobType: 'hello',
        expression: 'rate(1 hour)',
        params: { name: 'x'.repeat(90) },
        description: 'y'.repeat(500),
        id: 'big',
      },
      undefined,
    ],
  ])('refuses bad input and creates nothing: %j → %s', async (body, code) => {
    if (code === undefined) {
      // (a control: large but within limits)
      await expect(create(body)).resolves.toBeDefined();
      return;
    }
    await expectError(create(body), code);
    expect(schedules.schedules.size).toBe(0);
    expect(registry.calls).toEqual([]);
  });

  it('refuses ids of declared schedules and taken ids', async () => {
    await expectError(
      create({ id: 'nightly', jobType: 'hello', expression: 'rate(1 hour)' }),
      'ScheduleExists',
    );
    await create({ id: 'mine', jobType: 'hello', expression: 'rate(1 hour)' });
    await expectError(
      create({ id: 'mine', jobType: 'hello', expression: 'rate(2 hours)' }),
      'ScheduleExists',
    );
  });

  it('removes the record again when registering fails', async () => {
    registry.failNext = new Error('Scheduler is down');
    await expect(create({ id: 'x', jobType: 'hello', expression: 'rate(1 hour)' })).rejects.toThrow(
      'Scheduler is down',
    );
    expect(schedules.schedules.size).toBe(0);
  });

  it('pauses, resumes and changes; declared and finished one-time schedules are read-only', async () => {
    await create({ id: 'x', jobType: 'hello', expression: 'rate(1 hour)' });
    const paused = await updateSchedule(deps, 'x', { enabled: false });
    expect(paused).toMatchObject({ state: 'DISABLED', version: 1 });
    expect(paused.nextFireAt).toBeUndefined();
    expect(registry.registered.get('x')?.enabled).toBe(false);
    const changed = await updateSchedule(deps, 'x', {
      enabled: true,
      expression: 'cron(30 6 ? * MON *)',
      timezone: 'Europe/Berlin',
    });
    expect(changed).toMatchObject({ state: 'ENABLED', expression: 'cron(30 6 ? * MON *)' });
    expect(changed.nextFireAt).toBe('2026-11-30T05:30:00.000Z');
    await expectError(updateSchedule(deps, 'x', { expression: 'cron(bad)' }), 'InvalidScheduleExpression');
    expect((await getSchedule(deps, 'x')).expression).toBe('cron(30 6 ? * MON *)');
    await expectError(updateSchedule(deps, 'nightly', { enabled: false }), 'ScheduleManagedByConfig');

    await create({ id: 'once', jobType: 'hello', expression: 'at(2026-11-23T10:30:00)' });
    deps.clock.advance(3_600_000);
    expect((await getSchedule(deps, 'once')).state).toBe('COMPLETED');
    await expectError(updateSchedule(deps, 'once', { enabled: false }), 'ScheduleCompleted');
  });

  it('deletes (timer, record and cursor); 404 after; declared ones stay', async () => {
    await create({ id: 'x', jobType: 'hello', expression: 'rate(1 hour)' });
    await schedules.setCursor('x', new Date());
    await deleteSchedule(deps, 'x');
    expect(registry.calls).toEqual(['put x', 'delete x']);
    expect(schedules.schedules.size + schedules.cursors.size).toBe(0);
    await expectError(getSchedule(deps, 'x'), 'ScheduleNotFound');
    await expect(deleteSchedule(deps, 'nightly')).rejects.toBeInstanceOf(ConflictError);
  });
});

describe('a schedule run on the intake queue', () => {
  it('becomes one job however often Scheduler delivers it (key = schedule id + scheduled time)', async () => {
    await create({ id: 'hourly', jobType: 'hello', expression: 'rate(1 hour)', params: { name: 'Ada' } });
    // Scheduler substitutes the context attribute in the Input: the delivered body (fixture's scheduled time).
    const scheduled = fixture<{ derived: { jsonInputDeliveredMessageBody: string } }>(
      'scheduler-sqs-target.json',
    );
    const time = (JSON.parse(scheduled.derived.jsonInputDeliveredMessageBody) as { scheduledTime: string })
      .scheduledTime;
    const body = scheduleMessageTemplate(schedules.schedules.get('hourly')!).replaceAll(
      '<aws.scheduler.scheduled-time>',
      time,
    );
    const jobs = [];
    for (const messageId of ['m-1', 'm-2']) {
      const { request, trigger } = intakeSubmission(deps.catalog, { messageId, body });
      jobs.push(await submitJob(deps, request, trigger));
    }
    expect(jobs.map((j) => j.created)).toEqual([true, false]);
    expect(jobs[1]?.job.id).toBe(jobs[0]?.job.id);
    expect(jobs[0]?.job).toMatchObject({
      idempotencyKey: 'hello#schedule|hourly|2022-03-22T18:59:43Z',
      trigger: {
        kind: 'schedule',
        source: 'schedule/hourly',
        scheduledTime: '2022-03-22T18:59:43Z',
        actor: 'arn:aws:iam::1:user/ada',
      },
    });
  });

  it('fails visibly when its job type is gone (the message errors and reaches the DLQ)', () => {
    const body = JSON.stringify({
      type: 'removed',
      params: {},
      trigger: { kind: 'schedule', source: 'schedule/old' },
    });
    const { request, trigger } = intakeSubmission(deps.catalog, { messageId: 'm', body });
    return expectError(submitJob(deps, request, trigger), 'UnknownJobType');
  });
});

describe('runAt', () => {
  it('holds the job, reserving its id, and the one-time run creates it with that id', async () => {
    const runAt = new Date('2026-11-23T12:00:00.000Z');
    const trigger = { kind: 'api' as const, source: 'POST /jobs', actor: 'arn:aws:iam::1:user/ada' };
    const outcome = await holdJob(
      deps,
      { type: 'hello', params: { name: 'later' }, dependsOn: [] },
      runAt,
      trigger,
    );
    if (!outcome.held) throw new Error('expected a hold');
    expect(outcome.hold).toMatchObject({
      runAt: '2026-11-23T12:00:00Z',
      scheduleId: `run-${outcome.hold.jobId}`,
    });
    expect(await deps.store.getJob(outcome.hold.jobId)).toBeUndefined();
    const record = registry.registered.get(outcome.hold.scheduleId)!;
    expect(record).toMatchObject({
      expression: 'at(2026-11-23T12:00:00)',
      timezone: 'UTC',
      catchUp: 'latest',
      origin: 'run-at',
    });

    deps.clock.advance(2 * 3_600_000);
    const body = scheduleMessageTemplate(record).replaceAll(
      '<aws.scheduler.scheduled-time>',
      '2026-11-23T12:00:00Z',
    );
    const { request, trigger: fired } = intakeSubmission(deps.catalog, { messageId: 'm', body });
    const { job, created } = await submitJob(deps, request, fired);
    expect(created).toBe(true);
    expect(job.id).toBe(outcome.hold.jobId);
    expect(job.trigger).toMatchObject({
      kind: 'api',
      actor: trigger.actor,
      scheduledTime: '2026-11-23T12:00:00Z',
    });
  });

  it('a repeated request with the same key is the same hold, then the same job', async () => {
    const request = { type: 'hello', params: {}, dependsOn: [], idempotencyKey: 'k1' };
    const runAt = new Date('2026-11-23T12:00:00Z');
    const first = await holdJob(deps, request, runAt, { kind: 'api' });
    const second = await holdJob(deps, request, runAt, { kind: 'api' });
    expect(first.held && second.held && second.hold.jobId === first.hold.jobId).toBe(true);
    expect(schedules.schedules.size).toBe(1);
  });

  it('submits at once when runAt has just passed, refuses one beyond the grace period', async () => {
    const now = deps.clock.now();
    const done = await holdJob(
      deps,
      { type: 'hello', params: {}, dependsOn: [] },
      new Date(now.getTime() - 10_000),
      { kind: 'api' },
    );
    expect(done.held).toBe(false);
    await expectError(
      holdJob(deps, { type: 'hello', params: {}, dependsOn: [] }, new Date(now.getTime() - 120_000), {
        kind: 'api',
      }),
      'RunAtInPast',
    );
    await expectError(
      holdJob(deps, { type: 'hello', params: { bad: 1 }, dependsOn: [] }, new Date(now.getTime() + 60_000), {
        kind: 'api',
      }),
      'InvalidParams',
    );
    expect(schedules.schedules.size).toBe(0);
  });
});

describe('S3 uploads and events on the intake queue', () => {
  const s3Event = () => {
    const event = fixture<{ detail: { object: Record<string, unknown> } }>(
      's3-object-created-eventbridge.json',
    );
    event.detail.object.key = 'inputs/hello/report.csv';
    return event;
  };

  it('makes one job per object version, whatever S3 duplicates', async () => {
    const body = JSON.stringify({ offpeakTrigger: 'greet-uploads', event: s3Event() });
    const results = [];
    for (const messageId of ['a', 'b']) {
      const { request, trigger } = intakeSubmission(deps.catalog, { messageId, body });
      results.push(await submitJob(deps, request, trigger));
    }
    expect(results.map((r) => r.created)).toEqual([true, false]);
    expect(results[0]?.job).toMatchObject({
      input: { kind: 'object', uri: 's3://DOC-EXAMPLE-BUCKET1/inputs/hello/report.csv' },
      params: { name: 'inputs/hello/report.csv' },
      idempotencyKey:
        'hello#s3|greet-uploads|DOC-EXAMPLE-BUCKET1|inputs/hello/report.csv|IYV3p45BT0ac8hjHg1houSdS1a.Mro8e',
      trigger: {
        kind: 's3',
        source: 's3://DOC-EXAMPLE-BUCKET1/inputs/hello/report.csv',
        actor: '123456789012',
      },
    });
  });

  it('falls back to the lowercase etag without a version, and refuses keys outside the prefix', () => {
    const event = s3Event();
    delete event.detail.object['version-id'];
    const { request } = intakeSubmission(deps.catalog, {
      messageId: 'a',
      body: JSON.stringify({ offpeakTrigger: 'greet-uploads', event }),
    });
    expect(request.idempotencyKey).toMatch(/\|b1946ac92492d2347c6235b4d2611184$/);
    event.detail.object.key = 'inputs/other/x';
    expect(() =>
      intakeSubmission(deps.catalog, {
        messageId: 'a',
        body: JSON.stringify({ offpeakTrigger: 'greet-uploads', event }),
      }),
    ).toThrow(expect.objectContaining({ code: 'EventDoesNotMatchTrigger' }));
    expect(() =>
      intakeSubmission(deps.catalog, {
        messageId: 'a',
        body: JSON.stringify({ offpeakTrigger: 'gone', event }),
      }),
    ).toThrow(expect.objectContaining({ code: 'UnknownTrigger' }));
  });

  it("chains a job on another one's Job Succeeded event, idempotent by event id", async () => {
    const event = {
      version: '0',
      id: 'evt-1',
      'detail-type': 'Job Succeeded',
      source: 'offpeak',
      detail: { jobId: 'x', type: 'nightly-backup', outputUri: 's3://b/outputs/x/' },
    };
    const { request, trigger } = intakeSubmission(deps.catalog, {
      messageId: 'a',
      body: JSON.stringify({ offpeakTrigger: 'after-backup', event }),
    });
    expect(request).toMatchObject({
      type: 'hello',
      params: { name: 'backup' },
      input: 's3://b/outputs/x/',
      idempotencyKey: 'event|after-backup|evt-1',
    });
    expect(trigger).toEqual({ kind: 'event', source: 'event/after-backup', actor: 'offpeak: Job Succeeded' });
  });
});

describe('webhooks', () => {
  const push = github.pushDelivery;
  const lower = (headers: Record<string, string>) =>
    Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const deliver = (hookId: string, headers: Record<string, string>, body: string | Buffer) =>
    receiveWebhook(deps, {
      hookId,
      headers: lower(headers),
      rawBody: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'),
    });

  it("accepts GitHub's signed push delivery and makes one job per delivery id", async () => {
    const first = await deliver('gh-any', push.headers, push.rawBody);
    const again = await deliver('gh-any', push.headers, push.rawBody);
    if (first.kind !== 'submitted' || again.kind !== 'submitted') throw new Error('expected jobs');
    expect([first.created, again.created]).toEqual([true, false]);
    expect(again.job.id).toBe(first.job.id);
    expect(first.job).toMatchObject({
      params: { name: 'Codertocat' },
      idempotencyKey: 'hello#webhook|gh-any|72d3162e-cc78-11e3-81ab-4c9367dc0958',
      trigger: { kind: 'webhook', source: 'hook/gh-any', actor: 'github:Codertocat' },
    });
  });

  it.each([
    ['a tampered body', push.headers, push.rawBody.replace('Codertocat', 'CodertocaT')],
    ['no signature', { ...push.headers, 'X-Hub-Signature-256': '' }, push.rawBody],
    [
      'another secret',
      {
        ...push.headers,
        'X-Hub-Signature-256': `sha256=${createHmac('sha256', 'nope').update(push.rawBody).digest('hex')}`,
      },
      push.rawBody,
    ],
    ['a malformed header', { ...push.headers, 'X-Hub-Signature-256': 'sha1=abc' }, push.rawBody],
    ['a re-serialized body', push.headers, JSON.stringify(JSON.parse(push.rawBody), null, 1)],
  ])('refuses %s with InvalidSignature and creates nothing', async (_name, headers, body) => {
    await expectError(deliver('gh-any', headers, body), 'InvalidSignature');
    expect(deps.store.jobs.size).toBe(0);
  });

  it('ignores deliveries its filter does not want (the fixture pushes a tag, not main; pings)', async () => {
    expect(await deliver('gh-main', push.headers, push.rawBody)).toEqual({
      kind: 'ignored',
      reason: 'ref refs/tags/simple-tag is not a branch of main',
    });
    const ping = await deliver('gh-any', { ...push.headers, 'X-GitHub-Event': 'ping' }, push.rawBody);
    expect(ping.kind).toBe('ignored');
    expect(deps.store.jobs.size).toBe(0);
  });

  describe('generic HMAC with a timestamp', () => {
    const scheme = { algorithm: 'sha256' as const, encoding: 'hex' as const, prefix: 'sha256=' };
    const now = () => String(Math.floor(deps.clock.now().getTime() / 1000));
    const signed = (body: string, stamp = now(), extra: Record<string, string> = {}) => ({
      'X-Signature': signHmac('hmac-secret', body, scheme, stamp),
      'X-Timestamp': stamp,
      'X-Delivery': 'd-1',
      ...extra,
    });

    it('maps the payload to params and submits', async () => {
      const body = JSON.stringify({ user: { name: 'Grace' }, code: 0 });
      const outcome = await deliver('signed', signed(body), body);
      expect(outcome).toMatchObject({
        kind: 'submitted',
        created: true,
        job: { params: { name: 'Grace', exitCode: 0 } },
      });
    });

    it('refuses a stale timestamp, a signature without the timestamp, and a body over the limit', async () => {
      const body = JSON.stringify({ user: { name: 'Grace' } });
      const old = String(Number(now()) - 301);
      await expectError(deliver('signed', signed(body, old), body), 'InvalidSignature');
      await expectError(deliver('signed', { ...signed(body), 'X-Timestamp': '' }, body), 'InvalidSignature');
      const big = JSON.stringify({ user: { name: 'x'.repeat(3000) } });
      await expectError(deliver('signed', signed(big), big), 'PayloadTooLarge');
      expect(deps.store.jobs.size).toBe(0);
    });

    it('answers a mapping that fails with MappingFailed, and params the type refuses with InvalidParams', async () => {
      // A multiselect hash over null is null, not an object of params.
      const notObject = 'null';
      await expectError(deliver('signed', signed(notObject), notObject), 'MappingFailed');
      const badParams = JSON.stringify({ user: { name: 'Grace' }, code: 'zero' });
      await expectError(deliver('signed', signed(badParams), badParams), 'InvalidParams');
      expect(deps.store.jobs.size).toBe(0);
    });
  });

  it('answers an unknown hook with 404', async () => {
    await expectError(deliver('nope', {}, '{}'), 'HookNotFound');
  });

  it('errors of bad input are ValidationErrors (4xx at the edge)', async () => {
    await expect(deliver('gh-any', {}, '{}')).rejects.toBeInstanceOf(ValidationError);
  });
});
