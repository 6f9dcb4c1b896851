import type { OffpeakDeps } from '../deps.js';
import { NotFoundError } from '../errors.js';
import { EffectiveLimits, type QueuePatch, type ResourcePatch } from '../limits.js';
import type { QueueOrder, StuckAction } from '../queue-spec.js';
import type { RateLimit } from '../rate-limit.js';
import { queueSlotCounter, resourceSlotCounter } from './slots.js';

/** `GET /queues` counts waiting jobs up to this many. */
export const QUEUED_COUNT_CAP = 1000;

/** A queue as `GET /queues` shows it: its configuration, the limits in force and what is in use now. */
export interface QueueView {
  readonly name: string;
  readonly batchPriority: number;
  readonly order: QueueOrder;
  readonly paused: boolean;
  readonly concurrency: {
    /** The limit in force. */
    readonly limit: number;
    /** The catalog's limit (in force unless changed with `PATCH /queues/{name}`). */
    readonly default: number;
    /** Slots taken now. */
    readonly used: number;
  };
  /** Jobs waiting QUEUED, counted up to {@link QUEUED_COUNT_CAP} (`queuedCapped` says the count stopped there). */
  readonly queued: number;
  readonly queuedCapped: boolean;
  readonly rate?: RateLimit;
  readonly maxQueuedSeconds?: number;
  readonly maxRunnableSeconds?: number;
  readonly onStuck: StuckAction;
  /** When the run-time settings last changed. */
  readonly updatedAt?: string;
}

/** A shared resource as `GET /resources` shows it. */
export interface ResourceView {
  readonly name: string;
  readonly description: string;
  readonly limit: number;
  readonly defaultLimit: number;
  /** Units in use now. */
  readonly used: number;
  readonly rate?: RateLimit;
  /** Job types that hold units of it, and how many each. */
  readonly jobTypes: Readonly<Record<string, number>>;
  readonly updatedAt?: string;
}

/** Every queue with its limits in force and current use. */
export async function listQueues(deps: OffpeakDeps): Promise<QueueView[]> {
  const overrides = await deps.scheduling.limitOverrides();
  const limits = new EffectiveLimits(deps.catalog, overrides);
  return Promise.all(
    deps.catalog.queues().map(async (queue) => {
      const [usage, queued] = await Promise.all([
        deps.store.slotUsage(queueSlotCounter(queue.name)),
        deps.store.countQueued(queue.name, QUEUED_COUNT_CAP),
      ]);
      const updatedAt = overrides.queues[queue.name]?.updatedAt;
      return {
        name: queue.name,
        batchPriority: queue.batchPriority,
        order: queue.order,
        paused: limits.queuePaused(queue.name),
        concurrency: {
          limit: limits.queueConcurrency(queue.name),
          default: queue.concurrency,
          used: usage.used,
        },
        queued,
        queuedCapped: queued >= QUEUED_COUNT_CAP,
        ...(queue.rate ? { rate: queue.rate } : {}),
        ...(queue.maxQueuedSeconds !== undefined ? { maxQueuedSeconds: queue.maxQueuedSeconds } : {}),
        ...(queue.maxRunnableSeconds !== undefined ? { maxRunnableSeconds: queue.maxRunnableSeconds } : {}),
        onStuck: queue.onStuck,
        ...(updatedAt ? { updatedAt } : {}),
      };
    }),
  );
}

/** Every shared resource with its limit in force and current use. */
export async function listResources(deps: OffpeakDeps): Promise<ResourceView[]> {
  const overrides = await deps.scheduling.limitOverrides();
  const limits = new EffectiveLimits(deps.catalog, overrides);
  return Promise.all(
    deps.catalog.resources().map(async (resource) => {
      const usage = await deps.store.slotUsage(resourceSlotCounter(resource.name));
      const updatedAt = overrides.resources[resource.name]?.updatedAt;
      return {
        name: resource.name,
        description: resource.description,
        limit: limits.resourceLimit(resource.name),
        defaultLimit: resource.limit,
        used: usage.used,
        ...(resource.rate ? { rate: resource.rate } : {}),
        jobTypes: Object.fromEntries(
          deps.catalog.jobTypesUsing(resource.name).map((t) => [t.name, t.resources?.[resource.name] ?? 0]),
        ),
        ...(updatedAt ? { updatedAt } : {}),
      };
    }),
  );
}

/**
 * Changes a queue's concurrency or pauses/resumes it, at run time: stored beside the jobs, in force from the next
 * dispatcher pass, which this wakes. Lowering a limit stops new starts; running jobs are never stopped.
 *
 * @throws NotFoundError `UnknownQueue`
 */
export async function patchQueue(deps: OffpeakDeps, name: string, patch: QueuePatch): Promise<QueueView> {
  if (!deps.catalog.findQueue(name)) {
    throw new NotFoundError('UnknownQueue', `No queue named "${name}"`, {
      details: { queue: name, known: deps.catalog.queues().map((q) => q.name) },
    });
  }
  await deps.scheduling.patchQueue(name, patch);
  deps.log.info('Queue settings changed', { queue: name, ...patch });
  await deps.dispatchQueue.send({ kind: 'nudge', queue: name });
  const view = (await listQueues(deps)).find((q) => q.name === name);
  if (!view) throw new Error(`Queue ${name} vanished`);
  return view;
}

/**
 * Changes a shared resource's limit at run time (in force from the next dispatcher pass, which this wakes for every
 * queue with a job type using the resource).
 *
 * @throws NotFoundError `UnknownResource`
 */
export async function patchResource(
  deps: OffpeakDeps,
  name: string,
  patch: ResourcePatch,
): Promise<ResourceView> {
  if (!deps.catalog.findResource(name)) {
    throw new NotFoundError('UnknownResource', `No resource named "${name}"`, {
      details: { resource: name, known: deps.catalog.resources().map((r) => r.name) },
    });
  }
  await deps.scheduling.patchResource(name, patch);
  deps.log.info('Resource limit changed', { resource: name, limit: patch.limit });
  for (const queue of new Set(deps.catalog.jobTypesUsing(name).map((t) => t.queue))) {
    await deps.dispatchQueue.send({ kind: 'nudge', queue });
  }
  const view = (await listResources(deps)).find((r) => r.name === name);
  if (!view) throw new Error(`Resource ${name} vanished`);
  return view;
}
