import { createHash } from 'node:crypto';
import type { CatalogJobType } from './catalog.js';
import type { Job, SlotClaim } from './job.js';
import { stableStringify } from './job-type.js';
import type { EffectiveLimits } from './limits.js';
import { keySlotCounter, queueSlotCounter, resourceSlotCounter, typeSlotCounter } from './services/slots.js';

/** The levels a job's concurrency is limited at, in the order its slots are taken. */
export const SlotLevel = { Queue: 'queue', Type: 'type', Key: 'key', Resource: 'resource' } as const;
export type SlotLevel = (typeof SlotLevel)[keyof typeof SlotLevel];

/** One slot a job needs: the counter, its units, the limit in force, and what it limits. */
export interface PlannedSlot extends SlotClaim {
  readonly level: SlotLevel;
  /** The queue, job type, key value or resource the counter limits. */
  readonly name: string;
  readonly limit: number;
}

/** Key values longer than this are hashed, so counter keys stay small. */
const MAX_KEY_VALUE = 100;

/**
 * The value of a `concurrencyKey` expression (`params.tenantId`) in a job's params, as a counter-safe string, or
 * undefined when the params have no scalar there (the key level then does not apply to the job).
 *
 * @example concurrencyKeyValue({ tenant: { id: 'acme' } }, 'params.tenant.id') // 'acme'
 */
export function concurrencyKeyValue(
  params: Readonly<Record<string, unknown>>,
  expression: string,
): string | undefined {
  let value: unknown = params;
  for (const part of expression.split('.').slice(1)) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean') text = String(value);
  else if (value !== null && typeof value === 'object') text = stableStringify(value);
  else return undefined;
  return text.length <= MAX_KEY_VALUE ? text : `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

/**
 * Every slot `job` needs before it may run, in the fixed order they are taken (queue, job type, key, resources by
 * name), with the limits in force. Pure. A fixed order means two dispatchers never each hold a slot the other waits
 * for; what a dispatcher took is given back as soon as a later level is full.
 */
export function slotPlan(job: Job, type: CatalogJobType, limits: EffectiveLimits): PlannedSlot[] {
  const plan: PlannedSlot[] = [
    {
      level: SlotLevel.Queue,
      name: job.queue,
      counter: queueSlotCounter(job.queue),
      units: 1,
      limit: limits.queueConcurrency(job.queue),
    },
  ];
  if (type.concurrency !== undefined) {
    plan.push({
      level: SlotLevel.Type,
      name: type.name,
      counter: typeSlotCounter(type.name),
      units: 1,
      limit: type.concurrency,
    });
  }
  if (type.concurrencyKey) {
    const value = concurrencyKeyValue(job.params, type.concurrencyKey.key);
    if (value !== undefined) {
      plan.push({
        level: SlotLevel.Key,
        name: value,
        counter: keySlotCounter(type.name, value),
        units: 1,
        limit: type.concurrencyKey.limit,
      });
    }
  }
  for (const [resource, units] of Object.entries(type.resources ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
    plan.push({
      level: SlotLevel.Resource,
      name: resource,
      counter: resourceSlotCounter(resource),
      units,
      limit: limits.resourceLimit(resource),
    });
  }
  return plan;
}

/**
 * The slots a job holds or is taking (or, with `slotReleasePending`, still has to give back). Jobs written before
 * limits had levels record none: they hold their queue's slot.
 */
export function slotsOf(job: Pick<Job, 'slots' | 'queue'>): SlotClaim[] {
  return job.slots ?? [{ counter: queueSlotCounter(job.queue), units: 1 }];
}
