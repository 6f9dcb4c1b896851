import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { catalogData } from '../../config/offpeak.config.js';
import { BatchJobStateChangeSchema, toExecutorJob } from '../../src/core/batch-event.js';
import { buildCatalogData, Catalog } from '../../src/core/catalog.js';
import { ValidationError } from '../../src/core/errors.js';
import { derivedIdempotencyKey, payloadHashKey, scopedIdempotencyKey } from '../../src/core/idempotency.js';
import { isJobId, jobIdTime, newJobId } from '../../src/core/ids.js';
import { executorJobName, jobIdFromExecutorName } from '../../src/core/job-name.js';
import { defineJobType, jobTypeVersion, stableStringify } from '../../src/core/job-type.js';
import { DispatchMessageSchema, IntakeMessageSchema, SubmitRequestSchema } from '../../src/core/requests.js';
import { fixture } from './support/fixtures.js';

describe('SubmitRequestSchema', () => {
  it('accepts the minimal body and fills defaults', () => {
    expect(SubmitRequestSchema.parse({ type: 'hello' })).toEqual({
      type: 'hello',
      params: {},
      dependsOn: [],
    });
  });

  it.each([
    [{}, 'type'],
    [{ type: 'hello', params: [] }, 'params'],
    [{ type: 'hello', priority: 1001 }, 'priority'],
    [{ type: 'hello', priority: 1.5 }, 'priority'],
    [{ type: 'hello', dependsOn: ['not-a-ulid'] }, 'dependsOn'],
    [{ type: 'hello', idempotencyKey: '' }, 'idempotencyKey'],
    [{ type: 'hello', idempotencyKey: 'k'.repeat(257) }, 'idempotencyKey'],
    [{ type: 'hello', surprise: true }, ''],
  ])('rejects %j (at %s)', (body, path) => {
    const result = SubmitRequestSchema.safeParse(body);
    expect(result.success).toBe(false);
    expect(result.error?.issues.some((i) => String(i.path[0] ?? '') === path)).toBe(true);
  });

  it('takes a trigger on intake messages only', () => {
    expect(
      IntakeMessageSchema.parse({ type: 'hello', trigger: { kind: 'schedule', source: 's1' } }).trigger?.kind,
    ).toBe('schedule');
    expect(SubmitRequestSchema.safeParse({ type: 'hello', trigger: { kind: 'api' } }).success).toBe(false);
  });

  it('parses dispatch messages by kind', () => {
    expect(DispatchMessageSchema.parse({ kind: 'nudge' })).toEqual({ kind: 'nudge' });
    expect(DispatchMessageSchema.safeParse({ kind: 'retry-release' }).success).toBe(false);
  });
});

describe('catalog', () => {
  const catalog = new Catalog(catalogData);

  it('lists the example job types with a stable content version', () => {
    expect(catalog.jobTypes().map((t) => t.name)).toEqual([
      'hello',
      'nightly-backup',
      'settlement-map',
      'settlement-reduce',
      'notify',
    ]);
    const hello = catalog.jobType('hello');
    expect(hello.version).toMatch(/^[0-9a-f]{16}$/);
    expect(new Catalog(catalogData).jobType('hello').version).toBe(hello.version);
    expect(jobTypeVersion({ ...hello, memoryMiB: hello.memoryMiB * 2 })).not.toBe(jobTypeVersion(hello));
  });

  it('validates params with the type schema and names each issue', () => {
    expect(() => catalog.validateParams('hello', { name: 'Ada' })).not.toThrow();
    try {
      catalog.validateParams('hello', { name: 3, exitCode: 300, extra: 1 });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      const details = (error as ValidationError).details as { path: string }[];
      expect(details.map((d) => d.path).sort()).toEqual(['/', '/exitCode', '/name']);
    }
  });

  it('rejects an unknown job type, listing the known ones', () => {
    expect(() => catalog.jobType('nope')).toThrow(/Unknown job type "nope"/);
  });

  it('reports every configuration problem at once', () => {
    const bad = () =>
      buildCatalogData({
        jobTypes: [
          defineJobType({ name: 'a', image: 'x', command: ['x'], queue: 'missing' }),
          defineJobType({ name: 'a', image: 'x', command: ['x'] }),
          defineJobType({ name: 'Bad Name', image: 'x', command: ['x'] }),
        ],
        queues: [
          { name: 'normal', batchPriority: 1 },
          { name: 'other', batchPriority: 1 },
        ],
      });
    expect(bad).toThrow(ValidationError);
    try {
      bad();
    } catch (error) {
      const paths = ((error as ValidationError).details as { path: string }[]).map((d) => d.path);
      expect(paths).toEqual(
        expect.arrayContaining(['jobTypes[2] (Bad Name)', 'jobTypes.a', 'queues.other', 'jobTypes.a.queue']),
      );
    }
  });

  it('refuses per-type, per-key and resource limits on a packed job type (a pack would bypass them)', () => {
    const packed = (extra: Record<string, unknown>) => () =>
      buildCatalogData({
        jobTypes: [
          defineJobType({
            name: 'small',
            image: 'x',
            command: ['x'],
            packing: { windowSeconds: 5 },
            ...extra,
          }),
        ],
      });
    expect(packed({})).not.toThrow();
    for (const extra of [
      { concurrency: 5 },
      { concurrencyKey: { key: 'params.tenant', limit: 1 } },
      { resources: { 'warehouse-db': 1 } },
    ]) {
      expect(packed(extra)).toThrow(
        /a packed job type cannot declare (concurrency|concurrencyKey|resources)/,
      );
    }
  });

  it('turns zod params into JSON Schema', () => {
    const data = buildCatalogData({
      jobTypes: [
        defineJobType({
          name: 't',
          image: 'x',
          command: ['x'],
          params: z.object({ n: z.number().int().min(1) }),
        }),
      ],
    });
    const catalog2 = new Catalog(data);
    expect(() => catalog2.validateParams('t', { n: 0 })).toThrow(ValidationError);
    expect(() => catalog2.validateParams('t', { n: 2 })).not.toThrow();
  });
});

describe('ids, names and keys', () => {
  it('makes sortable, valid ULIDs that carry their time', () => {
    const now = new Date('2026-11-23T10:00:00Z');
    const ids = Array.from({ length: 50 }, () => newJobId(now));
    expect(ids.every(isJobId)).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    expect(jobIdTime(ids[0]!).toISOString()).toBe(now.toISOString());
  });

  it('round-trips the job id through the executor job name', () => {
    const id = newJobId();
    const name = executorJobName('nightly-backup', id);
    expect(name).toMatch(/^[A-Za-z0-9_-]{1,128}$/);
    expect(jobIdFromExecutorName(name)).toBe(id);
    expect(jobIdFromExecutorName('someone-elses-job')).toBeUndefined();
    expect(jobIdFromExecutorName(`offpeak-x-${id.toLowerCase()}`)).toBeUndefined();
  });

  it('scopes, derives and hashes idempotency keys', () => {
    expect(scopedIdempotencyKey('hello', 'k1')).toBe('hello#k1');
    expect(scopedIdempotencyKey('hello', 'k'.repeat(300))).toMatch(/^hello#sha256:[0-9a-f]{64}$/);
    expect(derivedIdempotencyKey('sched-1', '2026-11-23T00:00:00Z')).toBe('sched-1|2026-11-23T00:00:00Z');
    expect(derivedIdempotencyKey('a|b', 'c')).not.toBe(derivedIdempotencyKey('a', 'b|c'));
    expect(payloadHashKey('t', { a: 1, b: 2 })).toBe(payloadHashKey('t', { b: 2, a: 1 }));
    expect(stableStringify({ b: [1, { d: 1, c: 2 }], a: undefined })).toBe('{"b":[1,{"c":2,"d":1}]}');
  });
});

describe('Batch "Job State Change" events (real payload samples)', () => {
  it.each([
    ['batch-job-state-change-runnable.json', 'RUNNABLE', undefined],
    ['batch-job-state-change-running.json', 'RUNNING', undefined],
    ['batch-job-state-change-succeeded.json', 'SUCCEEDED', 0],
    ['batch-job-state-change-failed.json', 'FAILED', 1],
    ['batch-job-state-change-array-parent.json', 'SUCCEEDED', undefined],
  ])('%s parses as %s', (file, status, exitCode) => {
    const executorJob = toExecutorJob(BatchJobStateChangeSchema.parse(fixture(file)));
    expect(executorJob.status).toBe(status);
    expect(executorJob.exitCode).toBe(exitCode);
    expect(executorJob.executorJobId).toBeTruthy();
  });

  it('reads the array index of a child', () => {
    expect(
      toExecutorJob(BatchJobStateChangeSchema.parse(fixture('batch-job-state-change-array-child.json')))
        .arrayIndex,
    ).toBe(1);
  });

  it('rejects other events', () => {
    expect(BatchJobStateChangeSchema.safeParse(fixture('s3-object-created-eventbridge.json')).success).toBe(
      false,
    );
  });
});
