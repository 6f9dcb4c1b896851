import { describe, expect, it } from 'vitest';
import { buildCatalogData } from '../../src/core/catalog.js';
import {
  arrayJobsFor,
  chooseChunkBytes,
  chunkBytesOf,
  chunkIndexAt,
  chunkSegments,
  decodeIndexRanges,
  encodeIndexRanges,
  estimateRecordBytes,
  parseCsvHeader,
  planChunkLayout,
} from '../../src/core/chunk-plan.js';
import { ChunkingSpecSchema, withinTolerance } from '../../src/core/chunking-spec.js';
import { defineJobType, JobTypeSpecSchema } from '../../src/core/job-type.js';

const spec = (input: Record<string, unknown> = {}) => ChunkingSpecSchema.parse(input);
const object = (size: number) => ({ kind: 'object' as const, uri: 's3://b/k', object: { key: 'k', size } });

describe('chooseChunkBytes', () => {
  it.each([
    [
      'bytes from the type',
      spec({ chunkSizeBytes: 100 }),
      undefined,
      1000,
      { basis: 'bytes', chunkBytes: 100, grownToFit: false },
    ],
    [
      'the request wins',
      spec({ chunkSizeBytes: 100 }),
      { chunkSizeBytes: 300 },
      1000,
      { basis: 'bytes', chunkBytes: 300 },
    ],
    [
      'duration × throughput',
      spec({ targetChunkSeconds: 10, throughputBytesPerSecond: 50 }),
      undefined,
      10_000,
      { basis: 'duration', chunkBytes: 500 },
    ],
    ['64 MiB by default', spec(), undefined, 10, { basis: 'default', chunkBytes: 64 * 1024 * 1024 }],
    [
      'grows to stay within maxChunks',
      spec({ chunkSizeBytes: 1, maxChunks: 10 }),
      undefined,
      1000,
      { chunkBytes: 100, grownToFit: true },
    ],
  ] as const)('%s', (_name, s, overrides, total, expected) => {
    expect(chooseChunkBytes(s, overrides, total)).toMatchObject(expected);
  });

  it('sizes by records from the sample average', () => {
    const sample = new TextEncoder().encode('aaaa\nbbbb\ncc');
    expect(estimateRecordBytes(sample, 1000)).toBe(5);
    expect(chooseChunkBytes(spec({ chunkSizeRecords: 10 }), undefined, 1000, sample)).toMatchObject({
      basis: 'records',
      estimatedRecordBytes: 5,
      chunkBytes: 50,
    });
  });

  it('rejects a size of zero in the schema', () => {
    expect(() => spec({ chunkSizeBytes: 0 })).toThrow();
    expect(() => spec({ chunkSizeBytes: 10, chunkSizeRecords: 10 })).toThrow(/not both/);
  });
});

describe('planChunkLayout', () => {
  it('cuts one object into uniform ranges computed from its size', () => {
    const plan = planChunkLayout(object(25), spec({ chunkSizeBytes: 10 }));
    expect(plan.chunkCount).toBe(3);
    expect([0, 1, 2].map((i) => chunkSegments(plan.layout, i))).toEqual([
      [{ key: 'k', start: 0, end: 10 }],
      [{ key: 'k', start: 10, end: 20 }],
      [{ key: 'k', start: 20, end: 25 }],
    ]);
    expect(() => chunkSegments(plan.layout, 3)).toThrow(RangeError);
    expect(JSON.stringify(plan.layout).length).toBeLessThan(200);
  });

  it('an empty object is one empty chunk; a non-splittable object is one chunk', () => {
    expect(planChunkLayout(object(0), spec({ chunkSizeBytes: 10 })).chunkCount).toBe(1);
    const whole = planChunkLayout(object(1000), spec({ chunkSizeBytes: 10, splittable: false }));
    expect(whole).toMatchObject({ chunkCount: 1, splitting: 'whole-object' });
  });

  it('groups a prefix by size, cuts large objects, and leaves out empty objects and folders', () => {
    const objects = [
      { key: 'p/a', size: 25 },
      { key: 'p/b', size: 4 },
      { key: 'p/c', size: 6 },
      { key: 'p/d', size: 5 },
      { key: 'p/e', size: 5 },
      { key: 'p/empty', size: 0 },
      { key: 'p/folder/', size: 0 },
    ];
    const plan = planChunkLayout({ kind: 'prefix', uri: 's3://b/p/', objects }, spec({ chunkSizeBytes: 10 }));
    expect(plan).toMatchObject({ objects: 5, skippedObjects: 2, bytes: 45 });
    const sizes = Array.from({ length: plan.chunkCount }, (_, i) => chunkBytesOf(plan.layout, i));
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(45);
    expect(sizes.filter((s) => s === 10 || s === 5).length).toBeGreaterThanOrEqual(3); // 25 → 10, 10, 5
    // The small objects (20 bytes) go into two balanced groups of 10.
    const groups = Array.from({ length: plan.chunkCount }, (_, i) => chunkSegments(plan.layout, i)).filter(
      (segments) => segments[0]!.key !== 'p/a',
    );
    expect(groups.map((g) => g.reduce((n, s) => n + s.end - s.start, 0)).sort()).toEqual([10, 10]);
  });

  it('an empty prefix is an error', () => {
    expect(() => planChunkLayout({ kind: 'prefix', uri: 's3://b/p/', objects: [] }, spec())).toThrow(
      /No non-empty objects/,
    );
  });

  it('beyond 10,000 chunks: several array jobs, positions map across them', () => {
    const plan = planChunkLayout(object(20_001), spec({ chunkSizeBytes: 1, maxChunks: 25_000 }));
    expect(plan.chunkCount).toBe(20_001);
    expect(arrayJobsFor(plan.chunkCount)).toEqual([
      { offset: 0, size: 10_000 },
      { offset: 10_000, size: 10_000 },
      { offset: 20_000, size: 1 },
    ]);
    expect(chunkIndexAt({ chunkCount: 20_001 }, 10_005)).toBe(10_005);
    expect(chunkIndexAt({ chunkCount: 20_001, select: [7, 9000] }, 1)).toBe(9000);
  });
});

describe('helpers', () => {
  it.each([
    [[0, 1, 2, 5, 7, 8], '0-2,5,7-8'],
    [[3], '3'],
    [[], ''],
  ])('index ranges %j ↔ %s', (indexes, text) => {
    expect(encodeIndexRanges(indexes)).toBe(text);
    expect(decodeIndexRanges(text)).toEqual(indexes);
  });

  it.each([
    ['id,amount', ['id', 'amount']],
    ['"id","a ""quoted"" name"\r', ['id', 'a "quoted" name']],
  ])('parses the CSV header %j', (line, fields) => {
    expect(parseCsvHeader(line, { delimiter: ',' })).toEqual(fields);
  });

  it.each(['', 'id,"amount', 'id,,x', 'a"b,c', 'id,\u0001x'])('rejects the CSV header %j', (line) => {
    expect(() => parseCsvHeader(line, { delimiter: ',' })).toThrow(/CSV header does not parse/);
  });

  it.each([
    [{ toleratedFailurePercent: 0, toleratedFailureCount: 0 }, 0, 10, true],
    [{ toleratedFailurePercent: 0, toleratedFailureCount: 0 }, 1, 10, false],
    [{ toleratedFailurePercent: 10, toleratedFailureCount: 0 }, 1, 10, true],
    [{ toleratedFailurePercent: 10, toleratedFailureCount: 0 }, 2, 10, false],
    [{ toleratedFailurePercent: 0, toleratedFailureCount: 2 }, 2, 1000, true],
  ])('failure policy %j: %i of %i failed → within %s', (policy, failed, total, expected) => {
    expect(withinTolerance(policy, failed, total)).toBe(expected);
  });

  it('the catalog rejects quoted-newline CSV that is splittable, and a reduce step that is not a plain type', () => {
    expect(() =>
      JobTypeSpecSchema.parse({
        name: 'x',
        image: 'i',
        command: ['c'],
        chunking: { format: 'csv', csv: { quotedNewlines: true } },
      }),
    ).toThrow(/splittable: false/);
    expect(() =>
      buildCatalogData({
        jobTypes: [
          defineJobType({ name: 'm', image: 'i', command: ['c'], chunking: {}, reduce: { jobType: 'nope' } }),
        ],
      }),
    ).toThrow(/unknown job type "nope"/);
  });
});
