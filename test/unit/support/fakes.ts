import { catalogData } from '../../../config/offpeak.config.js';
import { Catalog } from '../../../src/core/catalog.js';
import type { Clock } from '../../../src/core/clock.js';
import type { CrashPoint, CrashPoints } from '../../../src/core/crash-point.js';
import { defaultSettings, type OffpeakDeps, silentLog } from '../../../src/core/deps.js';
import type { MetricDatum, Metrics } from '../../../src/core/observability/metrics.js';
import type { RetryMarker } from '../../../src/core/retry-marker.js';
import type { EventBus, OffpeakEvent } from '../../../src/ports/event-bus.js';
import type {
  ExecutionHandle,
  ExecutionRequest,
  Executor,
  ExecutorJob,
} from '../../../src/ports/executor.js';
import type { LogPage, LogQuery, LogReader } from '../../../src/ports/log-reader.js';
import type { Queue, SendOptions } from '../../../src/ports/queue.js';
import type { RetryMarkers } from '../../../src/ports/retry-markers.js';
import { MemoryDeadLetterStore } from './memory-dead-letter-store.js';
import { MemoryJobStore } from './memory-job-store.js';
import { MapSecrets, MemoryScheduleStore, RecordingRegistry } from './memory-schedule-store.js';
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

/** Counts what was emitted, by name and dimensions. */
export class RecordingMetrics implements Metrics {
  readonly data: MetricDatum[] = [];
  record(data: readonly MetricDatum[]): void {
    this.data.push(...data);
  }
  /** The sum of the data points with exactly these dimensions (`{}`: the service-wide ones). */
  total(name: string, dimensions: Record<string, string> = {}): number {
    const key = (d: Readonly<Record<string, string>>) => JSON.stringify(Object.entries(d).sort());
    return this.data
      .filter((d) => d.name === name && key(d.dimensions ?? {}) === key(dimensions))
      .reduce((sum, d) => sum + d.value, 0);
  }
}

/** Log lines per executor job id; tests write them. */
export class FakeLogs implements LogReader {
  readonly lines = new Map<string, string[]>();
  readonly reads: LogQuery[] = [];
  failWith?: Error;
  async read(query: LogQuery): Promise<LogPage> {
    this.reads.push(query);
    if (this.failWith) throw this.failWith;
    const lines = this.lines.get(query.executorJobId);
    if (!lines) return { lines: [], found: false };
    const page = query.tail ? lines.slice(-query.limit) : lines.slice(0, query.limit);
    return { lines: page.map((message) => ({ message })), found: true };
  }
  async location(): Promise<string | undefined> {
    return undefined;
  }
}

/** Retry markers tests leave by hand, per job and attempt. */
export class FakeRetryMarkers implements RetryMarkers {
  readonly markers = new Map<string, RetryMarker>();
  location(jobId: string, attempt: number): string {
    return `memory://markers/${jobId}/${attempt}`;
  }
  async read(jobId: string, attempt: number): Promise<RetryMarker | undefined> {
    return this.markers.get(`${jobId}#${attempt}`);
  }
  leave(jobId: string, attempt: number, marker: RetryMarker): void {
    this.markers.set(`${jobId}#${attempt}`, marker);
  }
}

/** A crash hook that throws at chosen points (the service "dies" there; tests then check the repair). */
export class ThrowingCrashPoints implements CrashPoints {
  readonly armed = new Set<CrashPoint>();
  reached(point: CrashPoint): void {
    if (this.armed.delete(point)) throw new SimulatedCrash(point);
  }
}

export class SimulatedCrash extends Error {
  constructor(readonly point: CrashPoint) {
    super(`simulated crash at ${point}`);
  }
}

export interface TestDeps extends OffpeakDeps {
  readonly store: MemoryJobStore;
  readonly scheduling: MemorySchedulingStore;
  readonly executor: RecordingExecutor;
  readonly events: RecordingBus;
  readonly dispatchQueue: RecordingQueue;
  readonly clock: ManualClock;
  readonly deadLetters: MemoryDeadLetterStore;
  readonly logs: FakeLogs;
  readonly retryMarkers: FakeRetryMarkers;
  readonly metrics: RecordingMetrics;
  readonly sourceQueues: { intake: RecordingQueue; dispatch: RecordingQueue; events: RecordingQueue };
  readonly crashPoints: ThrowingCrashPoints;
}

/**
 * Core deps on in-memory adapters and the example catalog (or `overrides.catalog`, whose queue orders apply). The
 * executor-submission smoother is off (the manual clock never refills it); tests of the smoother turn it on.
 */
export function testDeps(overrides: Partial<OffpeakDeps> = {}): TestDeps {
  const clock = new ManualClock();
  const catalog = overrides.catalog ?? new Catalog(catalogData);
  const orders = new Map(catalog.queues().map((q) => [q.name, q.order]));
  const dispatchQueue = new RecordingQueue();
  return {
    store: new MemoryJobStore(
      () => clock.now(),
      (queue) => orders.get(queue) ?? 'fifo',
    ),
    scheduling: new MemorySchedulingStore(() => clock.now()),
    catalog,
    executor: new RecordingExecutor(),
    events: new RecordingBus(),
    dispatchQueue,
    clock,
    log: silentLog,
    settings: { ...defaultSettings, submitRate: undefined },
    deadLetters: new MemoryDeadLetterStore(),
    logs: new FakeLogs(),
    retryMarkers: new FakeRetryMarkers(),
    metrics: new RecordingMetrics(),
    sourceQueues: { intake: new RecordingQueue(), dispatch: dispatchQueue, events: new RecordingQueue() },
    crashPoints: new ThrowingCrashPoints(),
    triggers: {
      schedules: new MemoryScheduleStore(),
      registry: new RecordingRegistry(),
      secrets: new MapSecrets({}),
    },
    ...overrides,
  } as TestDeps;
}
