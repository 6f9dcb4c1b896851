import { describe, expect, it } from 'vitest';
import { EffectiveLimits } from '../../src/core/limits.js';
import { concurrencyKeyValue, slotPlan, slotsOf } from '../../src/core/slot-plan.js';
import { makeJob } from '../support/jobs.js';
import { schedulingCatalog } from './support/scheduling-catalog.js';

const catalog = schedulingCatalog();

describe('slotPlan', () => {
  it('takes the queue, the job type, the key, then resources by name, with the limits in force', () => {
    const limits = new EffectiveLimits(catalog, {
      queues: { main: { concurrency: 4, updatedAt: 'x' } },
      resources: { warehouse: { limit: 7, updatedAt: 'x' } },
    });
    const job = makeJob({ type: 'etl', queue: 'main', params: { tenant: 'acme' } });
    expect(slotPlan(job, catalog.jobType('etl'), limits)).toEqual([
      { level: 'queue', name: 'main', counter: 'queue#main', units: 1, limit: 4 },
      { level: 'type', name: 'etl', counter: 'type#etl', units: 1, limit: 3 },
      { level: 'key', name: 'acme', counter: 'key#etl#acme', units: 1, limit: 2 },
      { level: 'resource', name: 'warehouse', counter: 'resource#warehouse', units: 1, limit: 7 },
    ]);
  });

  it('leaves the key level out when the params have no value there, and counts resource units', () => {
    const limits = new EffectiveLimits(catalog);
    expect(
      slotPlan(makeJob({ type: 'etl', queue: 'main' }), catalog.jobType('etl'), limits).map((s) => s.level),
    ).toEqual(['queue', 'type', 'resource']);
    expect(
      slotPlan(makeJob({ type: 'bulk', queue: 'main' }), catalog.jobType('bulk'), limits)[1],
    ).toMatchObject({
      counter: 'resource#warehouse',
      units: 2,
      limit: 3,
    });
  });

  it('reads key values from nested params, stringifies scalars and hashes long values', () => {
    expect(concurrencyKeyValue({ tenant: { id: 'acme' } }, 'params.tenant.id')).toBe('acme');
    expect(concurrencyKeyValue({ n: 7, b: true }, 'params.n')).toBe('7');
    expect(concurrencyKeyValue({ n: 7, b: true }, 'params.b')).toBe('true');
    expect(concurrencyKeyValue({ o: { b: 1, a: 2 } }, 'params.o')).toBe('{"a":2,"b":1}');
    expect(concurrencyKeyValue({ t: null }, 'params.t')).toBeUndefined();
    expect(concurrencyKeyValue({ t: [1] }, 'params.t.x')).toBeUndefined();
    expect(concurrencyKeyValue({ t: 'x'.repeat(101) }, 'params.t')).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('treats jobs written before slot levels as holding their queue slot', () => {
    expect(slotsOf({ queue: 'low' })).toEqual([{ counter: 'queue#low', units: 1 }]);
    expect(slotsOf({ queue: 'low', slots: [{ counter: 'type#x', units: 1 }] })).toEqual([
      { counter: 'type#x', units: 1 },
    ]);
  });
});
