import { describe, expect, it } from 'vitest';
import { exampleJobTypes } from '../../config/job-types.js';
import { buildCatalogData } from '../../src/core/catalog.js';
import type { ValidationError } from '../../src/core/errors.js';
import {
  type EventPattern,
  eventPatternProblems,
  matchesEventPattern,
} from '../../src/core/triggers/event-pattern.js';
import { mapParams } from '../../src/core/triggers/mapping.js';
import { uploadRulePattern } from '../../src/core/triggers/rule-patterns.js';
import type { TriggersInput } from '../../src/core/triggers/trigger-config.js';
import {
  signHmac,
  verifyGithubSignature,
  verifyHmacSignature,
} from '../../src/core/triggers/webhook-signature.js';
import { fixture } from './support/fixtures.js';

describe('GitHub signatures (docs test vector and the derived push delivery)', () => {
  const { testVector, pushDelivery } = fixture<{
    testVector: { secret: string; payload: string; 'X-Hub-Signature-256': string };
    pushDelivery: { secret: string; headers: Record<string, string>; rawBody: string };
  }>('github-webhook-signature.json');

  it.each([
    ['test vector', testVector.secret, testVector.payload, testVector['X-Hub-Signature-256'], { ok: true }],
    [
      'test vector, tampered',
      testVector.secret,
      'Hello, World?',
      testVector['X-Hub-Signature-256'],
      { ok: false, reason: 'mismatch' },
    ],
    [
      'test vector, other secret',
      'not it',
      testVector.payload,
      testVector['X-Hub-Signature-256'],
      { ok: false, reason: 'mismatch' },
    ],
    [
      'push delivery',
      pushDelivery.secret,
      pushDelivery.rawBody,
      pushDelivery.headers['X-Hub-Signature-256'],
      { ok: true },
    ],
    [
      'push delivery, one byte changed',
      pushDelivery.secret,
      `${pushDelivery.rawBody} `,
      pushDelivery.headers['X-Hub-Signature-256'],
      { ok: false, reason: 'mismatch' },
    ],
    [
      'truncated digest',
      testVector.secret,
      testVector.payload,
      testVector['X-Hub-Signature-256'].slice(0, -2),
      { ok: false, reason: 'malformed' },
    ],
    [
      'sha1 header',
      testVector.secret,
      testVector.payload,
      'sha1=7d38cdd689735b008b3c702edd92eea23791c5f6',
      { ok: false, reason: 'malformed' },
    ],
    ['no header', testVector.secret, testVector.payload, undefined, { ok: false, reason: 'missing' }],
  ])('%s', (_name, secret, body, header, expected) => {
    expect(verifyGithubSignature(secret, Buffer.from(body, 'utf8'), header)).toEqual(expected);
  });
});

describe('generic HMAC signatures', () => {
  const body = Buffer.from('{"a":1}');
  const now = new Date('2026-11-23T10:00:00Z');
  const stamp = String(now.getTime() / 1000);
  const check = (scheme: Parameters<typeof signHmac>[2], signature: string, timestamp?: string) =>
    verifyHmacSignature({
      secret: 's',
      rawBody: body,
      signature,
      scheme,
      timestamp,
      requireTimestamp: timestamp !== undefined,
      toleranceSeconds: 300,
      now,
    });

  it.each([
    [{ algorithm: 'sha256', encoding: 'hex' }],
    [{ algorithm: 'sha512', encoding: 'base64' }],
    [{ algorithm: 'sha256', encoding: 'hex', prefix: 'v1=' }],
  ] as const)('accepts its own signature: %j', (scheme) => {
    expect(check(scheme, signHmac('s', body, scheme))).toEqual({ ok: true });
    expect(check(scheme, signHmac('s', body, scheme, stamp), stamp)).toEqual({ ok: true });
    expect(check(scheme, signHmac('t', body, scheme))).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('enforces the replay window only on correctly signed requests', () => {
    const scheme = { algorithm: 'sha256', encoding: 'hex' } as const;
    const old = String(Number(stamp) - 301);
    expect(check(scheme, signHmac('s', body, scheme, old), old)).toEqual({
      ok: false,
      reason: 'stale-timestamp',
    });
    expect(check(scheme, signHmac('s', body, scheme, stamp), old)).toEqual({ ok: false, reason: 'mismatch' });
    expect(check(scheme, signHmac('s', body, scheme, stamp), '')).toEqual({
      ok: false,
      reason: 'missing-timestamp',
    });
  });
});

describe('event patterns', () => {
  const event = {
    source: 'aws.s3',
    'detail-type': 'Object Created',
    detail: { bucket: { name: 'b' }, object: { key: 'inputs/r/a b*.csv', size: 10 }, tags: ['x', 'y'] },
  };
  it.each<[string, EventPattern, boolean]>([
    ['exact', { source: ['aws.s3'] }, true],
    ['exact miss', { source: ['aws.ec2'] }, false],
    ['nested prefix', { detail: { object: { key: [{ prefix: 'inputs/r/' }] } } }, true],
    ['suffix', { detail: { object: { key: [{ suffix: '.json' }] } } }, false],
    [
      'wildcard with an escaped star',
      { detail: { object: { key: [{ wildcard: 'inputs/*b\\*.csv' }] } } },
      true,
    ],
    ['numeric range', { detail: { object: { size: [{ numeric: ['>', 5, '<=', 10] }] } } }, true],
    ['anything-but', { source: [{ 'anything-but': ['aws.s3'] }] }, false],
    ['anything-but prefix', { source: [{ 'anything-but': { prefix: 'aws.e' } }] }, true],
    ['equals-ignore-case', { 'detail-type': [{ 'equals-ignore-case': 'object created' }] }, true],
    ['exists false', { detail: { missing: [{ exists: false }] } }, true],
    ['exists true on a missing field', { detail: { missing: [{ exists: true }] } }, false],
    ['array field: any element', { detail: { tags: ['y'] } }, true],
    ['missing field', { detail: { other: ['x'] } }, false],
  ])('%s', (_name, pattern, expected) => {
    expect(eventPatternProblems(pattern)).toEqual([]);
    expect(matchesEventPattern(pattern, event)).toBe(expected);
  });

  it('refuses what the local matcher would not mean like EventBridge', () => {
    expect(eventPatternProblems({ source: 'aws.s3' })).toEqual([expect.stringMatching(/must be lists/)]);
    expect(eventPatternProblems({ detail: { ip: [{ cidr: '10.0.0.0/8' }] } })).toEqual([
      expect.stringMatching(/"cidr" is not supported/),
    ]);
    expect(eventPatternProblems({ $or: [] })).toEqual([expect.stringMatching(/not supported/)]);
  });

  it('matches upload rule patterns like the deployed rule', () => {
    const pattern = uploadRulePattern({ prefix: 'r/', suffixes: ['.csv'] }, 'b');
    expect(matchesEventPattern(pattern, event)).toBe(true);
    expect(matchesEventPattern(uploadRulePattern({ prefix: 'other/' }, 'b'), event)).toBe(false);
  });
});

describe('mappings', () => {
  it('merges static params with mapped ones and leaves nulls out', () => {
    expect(mapParams({ a: { b: 'x' } }, { one: 'a.b', two: 'missing' }, { fixed: 1 })).toEqual({
      fixed: 1,
      one: 'x',
    });
  });
});

describe('triggers in the catalog', () => {
  const build = (triggers: TriggersInput) => buildCatalogData({ jobTypes: exampleJobTypes, triggers });
  const issues = (triggers: TriggersInput): string[] => {
    try {
      build(triggers);
      return [];
    } catch (error) {
      return ((error as ValidationError).details as { path: string; message: string }[]).map(
        (i) => `${i.path}: ${i.message}`,
      );
    }
  };

  it('reports every problem at once', () => {
    const found = issues({
      schedules: [
        { id: 'a', jobType: 'ghost', expression: 'cron(0 2 * * * *)', timezone: 'Mars/Base' },
        { id: 'a', jobType: 'hello', expression: 'rate(1 hour)' },
      ],
      hooks: [
        {
          id: 'h',
          provider: 'github',
          secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf',
          jobType: 'hello',
          mapping: 'foo[',
        },
      ],
      events: [
        { id: 'loop', jobType: 'hello', pattern: { source: ['offpeak'], detail: { type: ['hello'] } } },
      ],
    });
    expect(found).toEqual([
      expect.stringMatching(/schedules\[0\] \(a\): unknown job type "ghost"/),
      expect.stringMatching(/schedules\[1\] \(a\): id "a" is also used/),
      expect.stringMatching(/hooks\[0\] \(h\)\.mapping: .*parse error/i),
      expect.stringMatching(/schedules\[0\] \(a\)\.expression: .*one of day-of-month/),
      expect.stringMatching(/schedules\[0\] \(a\)\.timezone: unknown time zone/),
      expect.stringMatching(/events\[0\] \(loop\)\.pattern: matches events of its own job type/),
    ]);
  });

  it('checks declared schedule params against the job type, and accepts the shipped examples', () => {
    expect(
      issues({ schedules: [{ id: 's', jobType: 'nightly-backup', expression: 'rate(1 day)', params: {} }] }),
    ).toEqual([expect.stringMatching(/schedules\[0\] \(s\)\.params: .*source/)]);
    expect(
      issues({
        hooks: [{ id: 'h', provider: 'github', secretArn: 'arn:aws:secretsmanager:x', jobType: 'hello' }],
      }),
    ).toEqual([expect.stringMatching(/complete Secrets Manager secret ARN/)]);
  });
});
