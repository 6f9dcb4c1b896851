import { catalogData } from '../../../config/offpeak.config.js';
import { Catalog } from '../../../src/core/catalog.js';
import type { Clock } from '../../../src/core/clock.js';
import { defaultSettings, type OffpeakDeps, silentLog } from '../../../src/core/deps.js';
import type { EventBus, OffpeakEvent } from '../../../src/ports/event-bus.js';
import type {
  ExecutionHandle,
  ExecutionRequest,
  Executor,
  ExecutorJob,
} from '../../../src/ports/executor.js';
import type { Queue, SendOptions } from '../../../src/ports/queue.js';
import { MemoryJobStore } from './memory-job-store.js';
import { MemorySchedulingStore } from './memory-scheduling-store.js';

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  constructor(private current = new Date('2026-11-23T10:00:00.000Z')) {}
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

/** Records submissions; tests decide what the "executor" reports. */
export class RecordingExecutor implements Executor {
  readonly submitted: ExecutionRequest[] = [];
  readonly terminated: string[] = [];
  readonly jobs = new Map<string, ExecutorJob>();
  failNextSubmit?: Error;
  private counter = 0;

  async submit(request: ExecutionRequest): Promise<ExecutionHandle> {
    if (this.failNextSubmit) {
      const error = this.failNextSubmit;
      this.failNextSubmit = undefined;
      throw error;
    }
    this.submitted.push(request);
    const executorJobId = `exec-${++this.counter}`;
    this.jobs.set(executorJobId, { executorJobId, jobName: request.jobName, status: 'SUBMITTED' });
    return {
      executorJobId,
      jobDefinition: `arn:aws:batch:us-east-1:123456789012:job-definition/${request.jobType}:1`,
      image: 'img',
      command: ['run'],
    };
  }
  async describe(ids: readonly string[]): Promise<ExecutorJob[]> {
    return ids.flatMap((id) => {
      const job = this.jobs.get(id);
      return job ? [job] : [];
    });
  }
  async findByName(jobName: string): Promise<ExecutorJob[]> {
    return [...this.jobs.values()].filter((j) => j.jobName === jobName);
  }
  async terminate(executorJobId: string): Promise<void> {
    this.terminated.push(executorJobId);
  }
}

export class RecordingBus implements EventBus {
  readonly events: OffpeakEvent[] = [];
  async publish(events: readonly OffpeakEvent[]): Promise<void> {
    this.events.push(...events);
  }
}

export class RecordingQueue implements Queue {
  readonly messages: { body: unknown; options?: SendOptions }[] = [];
  async send(body: unknown, options?: SendOptions): Promise<void> {
    this.messages.push({ body, ...(options ? { options } : {}) });
  }
  async sendMany(bodies: readonly unknown[]): Promise<void> {
    for (const body of bodies) await this.send(body);
  }
}

export interface TestDeps extends OffpeakDeps {
  readonly store: MemoryJobStore;
  readonly scheduling: MemorySchedulingStore;
  readonly executor: RecordingExecutor;
  readonly events: RecordingBus;
  readonly dispatchQueue: RecordingQueue;
  readonly clock: ManualClock;
}

/**
 * Core deps on in-memory adapters and the example catalog (or `overrides.catalog`, whose queue orders apply). The
 * executor-submission smoother is off (the manual clock never refills it); tests of the smoother turn it on.
 */
export function testDeps(overrides: Partial<OffpeakDeps> = {}): TestDeps {
  const clock = new ManualClock();
  const catalog = overrides.catalog ?? new Catalog(catalogData);
  const orders = new Map(catalog.queues().map((q) => [q.name, q.order]));
  return {
    store: new MemoryJobStore(
      () => clock.now(),
      (queue) => orders.get(queue) ?? 'fifo',
    ),
    scheduling: new MemorySchedulingStore(() => clock.now()),
    catalog,
    executor: new RecordingExecutor(),
    events: new RecordingBus(),
    dispatchQueue: new RecordingQueue(),
    clock,
    log: silentLog,
    settings: { ...defaultSettings, submitRate: undefined },
    ...overrides,
  } as TestDeps;
}
