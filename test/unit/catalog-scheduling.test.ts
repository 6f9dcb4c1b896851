import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildCatalogData, Catalog } from '../../src/core/catalog.js';
import { defineJobType, jobTypeVersion, toJobTypeSpec } from '../../src/core/job-type.js';
import { schedulingJobTypes, schedulingQueues, schedulingResources } from './support/scheduling-catalog.js';

const base = { image: 'busybox', command: ['true'] };

function issuesOf(run: () => unknown): Array<{ path: string; message: string }> {
  try {
    run();
  } catch (error) {
    return (error as { details: Array<{ path: string; message: string }> }).details;
  }
  throw new Error('expected a validation error');
}

describe('catalog: limits, resources and follow-ups', () => {
  it('builds a catalog with resources and limits, and keeps them in the data', () => {
    const data = buildCatalogData({
      jobTypes: schedulingJobTypes,
      queues: schedulingQueues,
      resources: schedulingResources,
    });
    expect(data.resources).toEqual([
      { name: 'warehouse', description: '', limit: 3 },
      { name: 'partner-api', description: '', limit: 100, rate: { limit: 1, periodSeconds: 10, burst: 1 } },
    ]);
    const catalog = new Catalog(data);
    expect(catalog.jobTypesUsing('warehouse').map((t) => t.name)).toEqual(['etl', 'bulk']);
    expect(catalog.queue('stack').order).toBe('lifo');
    expect(() => catalog.resource('nope')).toThrow(expect.objectContaining({ code: 'UnknownResource' }));
  });

  it('reports every problem at once: unknown resources, impossible units, unknown and invalid follow-ups', () => {
    const issues = issuesOf(() =>
      buildCatalogData({
        jobTypes: [
          defineJobType({
            ...base,
            name: 'a',
            resources: { ghost: 1, db: 5 },
            onSuccess: [{ type: 'nope' }],
          }),
          defineJobType({ ...base, name: 'b', onFailure: [{ type: 'c', params: { n: 'x' } }] }),
          defineJobType({ ...base, name: 'c', params: z.object({ n: z.number() }) }),
        ],
        resources: [
          { name: 'db', limit: 2 },
          { name: 'db', limit: 3 },
          { name: 'Bad Name', limit: -1 },
        ],
      }),
    );
    expect(issues.map((i) => i.path)).toEqual([
      'resources[2]',
      'resources.db',
      'jobTypes.a.resources.ghost',
      'jobTypes.a.resources.db',
      'jobTypes.a.onSuccess[0]',
    ]);
    expect(issues[3]?.message).toMatch(/needs 5 units .* limit is 3/);
    // Params of follow-ups are checked once the types are known.
    const paramIssues = issuesOf(() =>
      buildCatalogData({
        jobTypes: [
          defineJobType({ ...base, name: 'b', onFailure: [{ type: 'c', params: { n: 'x' } }] }),
          defineJobType({ ...base, name: 'c', params: z.object({ n: z.number() }) }),
        ],
      }),
    );
    expect(paramIssues).toEqual([
      { path: 'jobTypes.b.onFailure[0].params', message: expect.stringMatching(/schema of job type "c"/) },
    ]);
  });

  it('refuses follow-up chains that loop', () => {
    const issues = issuesOf(() =>
      buildCatalogData({
        jobTypes: [
          defineJobType({ ...base, name: 'a', onSuccess: [{ type: 'b' }] }),
          defineJobType({ ...base, name: 'b', onFailure: [{ type: 'a' }] }),
        ],
      }),
    );
    expect(issues).toEqual([{ path: 'jobTypes.a', message: expect.stringMatching(/cycle \(a → b → a\)/) }]);
  });

  it.each([
    [{ concurrency: -1 }, 'concurrency'],
    [{ concurrencyKey: { key: 'tenantId', limit: 1 } }, 'concurrencyKey.key'],
    [{ concurrencyKey: { key: 'params.tenant', limit: -2 } }, 'concurrencyKey.limit'],
    [{ resources: { db: 0 } }, 'resources.db'],
  ])('rejects %j at %s', (change, path) => {
    const issues = issuesOf(() =>
      buildCatalogData({ jobTypes: [defineJobType({ ...base, name: 'x', ...change })] }),
    );
    expect(issues[0]?.message).toContain(path);
  });

  it('keeps the content version of job types that use none of the new fields', () => {
    // The hash covers the spec's keys: new optional fields must stay absent unless set.
    const spec = toJobTypeSpec(defineJobType({ ...base, name: 'plain' }));
    expect(Object.keys(spec).sort()).toEqual(
      [
        'command',
        'description',
        'environment',
        'gpu',
        'image',
        'memoryMiB',
        'name',
        'paramsSchema',
        'priority',
        'queue',
        'retry',
        'secrets',
        'timeoutSeconds',
        'vcpu',
      ].sort(),
    );
    expect(jobTypeVersion(toJobTypeSpec(defineJobType({ ...base, name: 'plain', concurrency: 2 })))).not.toBe(
      jobTypeVersion(spec),
    );
  });
});
