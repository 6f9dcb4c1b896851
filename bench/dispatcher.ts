import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { createDocumentClient } from '../src/aws/clients.js';
import { DynamoDeadLetterStore } from '../src/aws/dynamo-dead-letter-store.js';
import { DynamoJobStore } from '../src/aws/dynamo-job-store.js';
import { DynamoSchedulingStore } from '../src/aws/dynamo-scheduling-store.js';
import { toJobItem } from '../src/aws/job-item.js';
import { buildCatalogData, Catalog } from '../src/core/catalog.js';
import { defaultSettings, type OffpeakDeps, type Settings, silentLog } from '../src/core/deps.js';
import { RetryableError } from '../src/core/errors.js';
import { newJobId } from '../src/core/ids.js';
import type { Job } from '../src/core/job.js';
import { executorJobName } from '../src/core/job-name.js';
import { defineJobType } from '../src/core/job-type.js';
import { EffectiveLimits } from '../src/core/limits.js';
import { dispatchQueue, EXECUTOR_THROTTLED } from '../src/core/services/dispatch.js';
import { applyExecutorUpdate } from '../src/core/services/track.js';
import { slotPlan } from '../src/core/slot-plan.js';
import { ensureTable } from '../src/local/resources.js';
import type { EventBus } from '../src/ports/event-bus.js';
import type { ExecutionHandle, ExecutionRequest, Executor, ExecutorJob } from '../src/ports/executor.js';
import type { Queue } from '../src/ports/queue.js';
import { type Emulators, pool, startDynalite, writeItems } from './dynalite.js';
import type { Benchmark } from './run.js';

/**
 * Dispatcher throughput on the emulators (dynalite): N queued jobs (10,000 by default; `OFFPEAK_BENCH_JOBS` for a
 * quick run) released by 1, 4 and 16 concurrent dispatchers while a tracker completes what runs, against a mocked
 * executor that records every submission and referees every limit. Reports jobs released per second (and the ratio to
 * one dispatcher), DynamoDB calls and writes per released job (counted by SDK middleware, dispatchers and tracker
 * apart), and whether any limit was ever exceeded. A last run checks the Batch submission smoother against an
 * executor that throttles like AWS Batch (50 SubmitJob calls a second).
 */
export const dispatcherBenchmark: Benchmark = {
  name: 'dispatcher',
  description: 'jobs released per second and DynamoDB calls per released job, 1/4/16 dispatchers',
  async run(log) {
    const jobs = Number(process.env.OFFPEAK_BENCH_JOBS ?? 10_000);
    const emulators = await startDynalite();
    let ok = true;
    try {
      for (const scenario of scenarios) {
        log(`${scenario.title} — ${jobs} queued jobs`);
        log(
          pad([
            'dispatchers',
            'released/s',
            'vs 1',
            'calls/job',
            'writes/job',
            'failed cond.',
            'tracker calls/job',
            'limits',
          ]),
        );
        let baseline: number | undefined;
        for (const dispatchers of [1, 4, 16]) {
          const result = await runOnce(emulators, scenario, jobs, dispatchers);
          baseline ??= result.perSecond;
          ok &&= result.violations.length === 0;
          log(
            pad([
              String(dispatchers),
              result.perSecond.toFixed(0),
              `${(result.perSecond / baseline).toFixed(2)}x`,
              (result.dispatcher.calls / jobs).toFixed(2),
              (result.dispatcher.writes / jobs).toFixed(2),
              (result.dispatcher.conditionFailures / jobs).toFixed(2),
              (result.tracker.calls / jobs).toFixed(2),
              result.violations.length === 0 ? 'never exceeded' : `EXCEEDED: ${result.violations[0]}`,
            ]),
          );
          if (dispatchers === 16) {
            log(
              `  peak use vs limit: ${[...result.peaks]
                .map(([counter, peak]) => `${counter} ${peak}/${result.limits.get(counter)}`)
                .slice(0, 6)
                .join(', ')}`,
            );
            log(`  writes per released job by call: ${describeWrites(result.dispatcher.byCommand, jobs)}`);
          }
        }
        log();
      }
      const smoothing = await runSmoother(emulators, Math.max(200, Math.min(1_000, Math.floor(jobs / 10))));
      ok &&= smoothing.throttled === 0 && smoothing.dropped === 0;
      log(
        `Batch SubmitJob smoother (default 40/s) — ${smoothing.jobs} jobs, 16 dispatchers, executor throttling above 50/s`,
      );
      log(
        `  ${smoothing.perSecond.toFixed(1)} submissions/s, at most ${smoothing.maxPerSecond} in any second, ` +
          `${smoothing.throttled} throttled, ${smoothing.dropped} jobs lost, ` +
          `${(smoothing.calls / smoothing.jobs).toFixed(2)} DynamoDB calls per job (with completions)`,
      );
    } finally {
      await emulators.stop();
    }
    return ok;
  },
};

interface Scenario {
  readonly title: string;
  readonly type: string;
  readonly params: (i: number) => Record<string, unknown>;
  readonly settings?: Partial<Settings>;
}

const scenarios: readonly Scenario[] = [
  { title: 'Queue limit only (concurrency 200)', type: 'plain', params: () => ({}) },
  {
    title: 'Every level: queue 200, job type 150, params.tenant 10 each (40 tenants), resource 120 units',
    type: 'etl',
    params: (i) => ({ tenant: `t${i % 40}` }),
  },
];

const catalog = new Catalog(
  buildCatalogData({
    queues: [{ name: 'bench', batchPriority: 100, concurrency: 200 }],
    resources: [{ name: 'warehouse', limit: 120 }],
    jobTypes: [
      defineJobType({ name: 'plain', image: 'busybox', command: ['true'], queue: 'bench' }),
      defineJobType({
        name: 'etl',
        image: 'busybox',
        command: ['true'],
        queue: 'bench',
        concurrency: 150,
        concurrencyKey: { key: 'params.tenant', limit: 10 },
        resources: { warehouse: 1 },
        params: z.object({ tenant: z.string() }),
      }),
    ],
  }),
);

/** DynamoDB calls through one client, by command, and conditional checks that failed. */
class CallCounter {
  readonly byCommand = new Map<string, number>();
  conditionFailures = 0;

  attach(client: DynamoDBClient): DynamoDBClient {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const name = String(context.commandName);
        this.byCommand.set(name, (this.byCommand.get(name) ?? 0) + 1);
        try {
          return await next(args);
        } catch (error) {
          if (error instanceof Error && error.name === 'ConditionalCheckFailedException')
            this.conditionFailures++;
          throw error;
        }
      },
      { step: 'initialize', name: 'offpeakCallCounter' },
    );
    return client;
  }

  get calls(): number {
    return [...this.byCommand.values()].reduce((a, b) => a + b, 0);
  }

  get writes(): number {
    return [...this.byCommand]
      .filter(([name]) => /^(PutItem|UpdateItem|DeleteItem|BatchWriteItem)/.test(name))
      .reduce((sum, [, n]) => sum + n, 0);
  }
}

/** Records submissions and referees every limit: what runs (submitted, not finished) per counter never exceeds it. */
class RefereeExecutor implements Executor {
  readonly running = new Map<string, ExecutionRequest>();
  readonly units = new Map<string, number>();
  readonly peaks = new Map<string, number>();
  readonly limits = new Map<string, number>();
  readonly violations: string[] = [];
  readonly submittedAt: number[] = [];
  submitted = 0;
  throttled = 0;
  #next = 0;

  constructor(private readonly quotaPerSecond?: number) {}

  async submit(request: ExecutionRequest): Promise<ExecutionHandle> {
    const now = performance.now();
    if (this.quotaPerSecond !== undefined) {
      const recent = this.submittedAt.filter((t) => t > now - 1000).length;
      if (recent >= this.quotaPerSecond) {
        this.throttled++;
        throw new RetryableError(EXECUTOR_THROTTLED, 'Too many requests', { retryAfterMs: 1000 });
      }
    }
    this.submittedAt.push(now);
    this.submitted++;
    const params = JSON.parse(request.environment.OFFPEAK_PARAMS ?? '{}') as Record<string, unknown>;
    for (const slot of slotPlan(
      { queue: request.queue, params } as Job,
      catalog.jobType(request.jobType),
      new EffectiveLimits(catalog),
    )) {
      const used = (this.units.get(slot.counter) ?? 0) + slot.units;
      this.units.set(slot.counter, used);
      this.limits.set(slot.counter, slot.limit);
      this.peaks.set(slot.counter, Math.max(used, this.peaks.get(slot.counter) ?? 0));
      if (used > slot.limit) this.violations.push(`${slot.counter} ${used}/${slot.limit}`);
    }
    const executorJobId = `exec-${++this.#next}`;
    this.running.set(executorJobId, request);
    return { executorJobId, jobDefinition: `bench:${request.jobType}`, image: 'busybox', command: ['true'] };
  }

  /** The container ended: its units are free before Batch reports it. */
  finish(executorJobId: string): ExecutionRequest | undefined {
    const request = this.running.get(executorJobId);
    if (!request) return undefined;
    this.running.delete(executorJobId);
    const params = JSON.parse(request.environment.OFFPEAK_PARAMS ?? '{}') as Record<string, unknown>;
    for (const slot of slotPlan(
      { queue: request.queue, params } as Job,
      catalog.jobType(request.jobType),
      new EffectiveLimits(catalog),
    )) {
      this.units.set(slot.counter, (this.units.get(slot.counter) ?? 0) - slot.units);
    }
    return request;
  }

  async describe(): Promise<ExecutorJob[]> {
    return [];
  }
  async findByName(): Promise<ExecutorJob[]> {
    return [];
  }
  async terminate(executorJobId: string): Promise<void> {
    this.finish(executorJobId);
  }
}

const quietQueue: Queue = { async send() {}, async sendMany() {} };
const quietBus: EventBus = { async publish() {} };

function depsOn(
  endpoint: string,
  emulators: Emulators,
  tableName: string,
  executor: Executor,
  counter: CallCounter,
  settings: Partial<Settings>,
): OffpeakDeps {
  const client = counter.attach(
    new DynamoDBClient({
      endpoint,
      region: emulators.region,
      credentials: emulators.credentials,
      maxAttempts: 5,
    }),
  );
  const documentClient = createDocumentClient(client);
  return {
    store: new DynamoJobStore({ client: documentClient, tableName, queueOrder: () => 'fifo' }),
    scheduling: new DynamoSchedulingStore({ client: documentClient, tableName }),
    deadLetters: new DynamoDeadLetterStore({ client: documentClient, tableName }),
    catalog,
    executor,
    events: quietBus,
    dispatchQueue: quietQueue,
    clock: { now: () => new Date() },
    log: silentLog,
    settings: { ...defaultSettings, ...settings },
  };
}

async function seed(
  db: DynamoDBDocumentClient,
  tableName: string,
  scenario: Scenario,
  count: number,
): Promise<void> {
  const now = new Date();
  const items = Array.from({ length: count }, (_, i) => {
    const iso = now.toISOString();
    const job: Job = {
      id: newJobId(now),
      type: scenario.type,
      queue: 'bench',
      priority: 500,
      params: scenario.params(i),
      trigger: { kind: 'api' },
      dependsOn: [],
      state: 'QUEUED',
      attempt: 0,
      maxAttempts: 3,
      attempts: [],
      history: [{ state: 'QUEUED', at: iso }],
      holdsSlot: false,
      createdAt: iso,
      updatedAt: iso,
      stateChangedAt: iso,
      version: 0,
    };
    return toJobItem(job, 'fifo');
  });
  await writeItems(db, tableName, items);
}

interface RunResult {
  readonly perSecond: number;
  readonly dispatcher: CallCounter;
  readonly tracker: CallCounter;
  readonly violations: readonly string[];
  readonly peaks: ReadonlyMap<string, number>;
  readonly limits: ReadonlyMap<string, number>;
}

/** Releases `count` seeded jobs with `dispatchers` concurrent dispatchers while a tracker completes running jobs. */
async function runOnce(
  emulators: Emulators,
  scenario: Scenario,
  count: number,
  dispatchers: number,
): Promise<RunResult> {
  const endpoint = emulators.endpoints.dynamodb;
  const tableName = `bench-${scenario.type}-${dispatchers}-${Date.now()}`;
  const setup = new DynamoDBClient({
    endpoint,
    region: emulators.region,
    credentials: emulators.credentials,
  });
  await ensureTable(setup, tableName);
  await seed(createDocumentClient(setup), tableName, scenario, count);

  const executor = new RefereeExecutor();
  // The dispatcher alone: the submission smoother caps everything at 40/s by design; it is measured on its own.
  const settings: Partial<Settings> = { submitRate: undefined };
  const dispatcher = new CallCounter();
  const tracker = new CallCounter();
  const dispatchDeps = depsOn(endpoint, emulators, tableName, executor, dispatcher, settings);
  const trackDeps = depsOn(endpoint, emulators, tableName, executor, tracker, settings);

  const started = performance.now();
  let stop = false;
  const dispatching = Array.from({ length: dispatchers }, async () => {
    while (executor.submitted < count) {
      const summary = await dispatchQueue(dispatchDeps, 'bench');
      // Nothing to do: on AWS the next completion's nudge would wake it.
      if (summary.released === 0) await sleep(2);
    }
  });
  const tracking = (async () => {
    while (!stop || executor.running.size > 0) {
      const done = [...executor.running.keys()].slice(0, 64);
      if (done.length === 0) {
        await sleep(2);
        continue;
      }
      await pool(done, 16, async (executorJobId) => {
        const request = executor.finish(executorJobId);
        if (!request) return;
        await applyExecutorUpdate(trackDeps, {
          executorJobId,
          jobName: executorJobName(request.jobType, request.jobId),
          status: 'SUCCEEDED',
          exitCode: 0,
        });
      });
    }
  })();
  await Promise.all(dispatching);
  const seconds = (performance.now() - started) / 1000;
  stop = true;
  await tracking;
  setup.destroy();
  return {
    perSecond: count / seconds,
    dispatcher,
    tracker,
    violations: executor.violations,
    peaks: executor.peaks,
    limits: executor.limits,
  };
}

/** 16 dispatchers against an executor that throttles above 50 submissions a second, with the default smoother. */
async function runSmoother(emulators: Emulators, count: number) {
  const endpoint = emulators.endpoints.dynamodb;
  const tableName = `bench-smoother-${Date.now()}`;
  const setup = new DynamoDBClient({
    endpoint,
    region: emulators.region,
    credentials: emulators.credentials,
  });
  await ensureTable(setup, tableName);
  await seed(createDocumentClient(setup), tableName, scenarios[0] as Scenario, count);
  const executor = new RefereeExecutor(50);
  const counter = new CallCounter();
  const deps = depsOn(endpoint, emulators, tableName, executor, counter, {});
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (executor.submitted < count) {
        const summary = await dispatchQueue(deps, 'bench');
        if (summary.released === 0) await sleep(Math.min(summary.retryAfterMs ?? 5, 100));
        // Finished containers free their slots: no tracker here, only submissions are measured.
        for (const id of [...executor.running.keys()]) {
          const request = executor.finish(id);
          if (request) {
            await applyExecutorUpdate(deps, {
              executorJobId: id,
              jobName: executorJobName(request.jobType, request.jobId),
              status: 'SUCCEEDED',
            });
          }
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const times = executor.submittedAt;
  let maxPerSecond = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while ((times[i] as number) - (times[j] as number) >= 1000) j++;
    maxPerSecond = Math.max(maxPerSecond, i - j + 1);
  }
  const store = deps.store;
  const lost = (await store.listJobs({ state: 'FAILED', limit: 100 })).items.length;
  setup.destroy();
  return {
    jobs: count,
    calls: counter.calls,
    perSecond: executor.submitted / seconds,
    maxPerSecond,
    throttled: executor.throttled,
    dropped: lost + (count - executor.submitted),
  };
}

function describeWrites(byCommand: ReadonlyMap<string, number>, jobs: number): string {
  return [...byCommand]
    .sort(([, a], [, b]) => b - a)
    .map(([name, n]) => `${name.replace(/Command$/, '')} ${(n / jobs).toFixed(2)}`)
    .join(', ');
}

function pad(cells: readonly string[]): string {
  return cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(i === 0 ? 12 : 14))).join('');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
