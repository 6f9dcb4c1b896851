import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { queueOrderOf } from '../../src/aws/deps.js';
import { DynamoDeadLetterStore } from '../../src/aws/dynamo-dead-letter-store.js';
import { DynamoJobStore } from '../../src/aws/dynamo-job-store.js';
import { DynamoSchedulingStore } from '../../src/aws/dynamo-scheduling-store.js';
import type { Catalog } from '../../src/core/catalog.js';
import { defaultSettings, type OffpeakDeps, silentLog } from '../../src/core/deps.js';
import type { Job } from '../../src/core/job.js';
import { executorJobName } from '../../src/core/job-name.js';
import { activeStates, isTerminal } from '../../src/core/job-state.js';
import { EffectiveLimits } from '../../src/core/limits.js';
import { SubmitRequestSchema } from '../../src/core/requests.js';
import { cancelJob } from '../../src/core/services/cancel.js';
import { dispatchQueue } from '../../src/core/services/dispatch.js';
import { submitJob } from '../../src/core/services/submit.js';
import { applyExecutorUpdate } from '../../src/core/services/track.js';
import { slotPlan, slotsOf } from '../../src/core/slot-plan.js';
import { ensureTable } from '../../src/local/resources.js';
import type {
  ExecutionHandle,
  ExecutionRequest,
  Executor,
  ExecutorJob,
  ExecutorStatus,
} from '../../src/ports/executor.js';
import { uniqueName, useEmulators } from '../support/emulators.js';
import { RecordingBus, RecordingQueue } from '../unit/support/fakes.js';
import { schedulingCatalog, schedulingQueues } from '../unit/support/scheduling-catalog.js';

const harness = useEmulators();

/**
 * An executor that is also the referee: it tracks what really runs (submitted and not yet finished or terminated) at
 * every level of the catalog's limits, and records every violation: a level over its limit, or a job running twice.
 */
class RefereeExecutor implements Executor {
  readonly running = new Map<string, { jobId: string; request: ExecutionRequest }>();
  readonly runningUnits = new Map<string, number>();
  readonly violations: string[] = [];
  readonly submissions: string[] = [];
  maxSeen = new Map<string, number>();
  #next = 0;

  constructor(private readonly catalog: Catalog) {}

  #plan(request: ExecutionRequest) {
    const params = JSON.parse(request.environment.OFFPEAK_PARAMS ?? '{}') as Record<string, unknown>;
    const job = { queue: request.queue, params } as Job;
    return slotPlan(job, this.catalog.jobType(request.jobType), new EffectiveLimits(this.catalog));
  }

  async submit(request: ExecutionRequest): Promise<ExecutionHandle> {
    const executorJobId = `exec-${++this.#next}`;
    this.submissions.push(`${request.jobId}#${request.attempt}`);
    if ([...this.running.values()].some((r) => r.jobId === request.jobId)) {
      this.violations.push(`job ${request.jobId} released while it runs`);
    }
    for (const slot of this.#plan(request)) {
      const units = (this.runningUnits.get(slot.counter) ?? 0) + slot.units;
      this.runningUnits.set(slot.counter, units);
      this.maxSeen.set(slot.counter, Math.max(units, this.maxSeen.get(slot.counter) ?? 0));
      if (units > slot.limit) this.violations.push(`${slot.counter} at ${units} > ${slot.limit}`);
    }
    this.running.set(executorJobId, { jobId: request.jobId, request });
    return { executorJobId, jobDefinition: `local:${request.jobType}`, image: 'img', command: ['run'] };
  }

  /** The container ended (before Batch reports it): its units are free in reality. */
  stop(executorJobId: string): void {
    const entry = this.running.get(executorJobId);
    if (!entry) return;
    this.running.delete(executorJobId);
    for (const slot of this.#plan(entry.request)) {
      this.runningUnits.set(slot.counter, (this.runningUnits.get(slot.counter) ?? 0) - slot.units);
    }
  }

  async describe(): Promise<ExecutorJob[]> {
    return [];
  }
  async findByName(): Promise<ExecutorJob[]> {
    return [];
  }
  async terminate(executorJobId: string): Promise<void> {
    this.stop(executorJobId);
  }
}

const catalog = schedulingCatalog({
  queues: schedulingQueues.map((q) => (q.name === 'main' ? { ...q, concurrency: 5 } : q)),
});

async function freshDeps(): Promise<OffpeakDeps & { executor: RefereeExecutor; events: RecordingBus }> {
  const { clients } = harness();
  const tableName = uniqueName('dispatch');
  await ensureTable(clients.dynamodb, tableName);
  return {
    store: new DynamoJobStore({
      client: clients.documentClient,
      tableName,
      queueOrder: queueOrderOf(catalog),
    }),
    scheduling: new DynamoSchedulingStore({ client: clients.documentClient, tableName }),
    deadLetters: new DynamoDeadLetterStore({ client: clients.documentClient, tableName }),
    catalog,
    executor: new RefereeExecutor(catalog),
    events: new RecordingBus(),
    dispatchQueue: new RecordingQueue(),
    clock: { now: () => new Date() },
    log: silentLog,
    settings: {
      ...defaultSettings,
      dispatchBatchSize: 3,
      submitRate: { limit: 10_000, periodSeconds: 1, burst: 100 },
    },
  };
}

type Deps = Awaited<ReturnType<typeof freshDeps>>;

const jobArb = fc.oneof(
  fc.record({ type: fc.constant('work'), params: fc.constant({}) }),
  fc.record({
    type: fc.constant('etl'),
    params: fc.record({ tenant: fc.constantFrom('acme', 'zen', 'ops') }),
  }),
  fc.record({ type: fc.constant('bulk'), params: fc.constant({}) }),
);
const outcomeArb = fc.constantFrom<ExecutorStatus>('SUCCEEDED', 'FAILED');
const stepArb = fc.oneof(
  fc.record({ kind: fc.constant('submit' as const), jobs: fc.array(jobArb, { minLength: 1, maxLength: 6 }) }),
  fc.record({ kind: fc.constant('dispatch' as const), dispatchers: fc.integer({ min: 2, max: 8 }) }),
  fc.record({
    kind: fc.constant('complete' as const),
    share: fc.double({ min: 0.2, max: 1, noNaN: true }),
    outcome: outcomeArb,
    duplicates: fc.integer({ min: 1, max: 3 }),
  }),
  fc.record({ kind: fc.constant('dispatch+complete' as const), dispatchers: fc.integer({ min: 2, max: 6 }) }),
  fc.record({ kind: fc.constant('cancel' as const), pick: fc.integer({ min: 0, max: 1000 }) }),
);
type Step = typeof stepArb extends fc.Arbitrary<infer T> ? T : never;

/** Events for one finished executor job: the outcome, duplicated, and stale ones around it, in the order given. */
async function finish(deps: Deps, executorJobId: string, outcome: ExecutorStatus, duplicates: number) {
  const entry = deps.executor.running.get(executorJobId);
  if (!entry) return;
  deps.executor.stop(executorJobId);
  const jobName = executorJobName(entry.request.jobType, entry.jobId);
  const events: ExecutorStatus[] = [
    'RUNNING',
    ...Array.from({ length: duplicates }, () => outcome),
    'RUNNABLE',
  ];
  // Out of order and concurrent: the tracker sees them in any interleaving.
  await Promise.all(
    events
      .reverse()
      .map((status) => applyExecutorUpdate(deps, { executorJobId, jobName, status }, () => 0.5)),
  );
}

async function runStep(deps: Deps, step: Step): Promise<void> {
  const dispatch = (n: number) => Promise.all(Array.from({ length: n }, () => dispatchQueue(deps, 'main')));
  const complete = (share: number, outcome: ExecutorStatus, duplicates: number) => {
    const ids = [...deps.executor.running.keys()];
    return Promise.all(
      ids.slice(0, Math.ceil(ids.length * share)).map((id) => finish(deps, id, outcome, duplicates)),
    );
  };
  switch (step.kind) {
    case 'submit':
      for (const job of step.jobs) {
        await submitJob(deps, SubmitRequestSchema.parse(job), { kind: 'api' });
      }
      return;
    case 'dispatch':
      await dispatch(step.dispatchers);
      return;
    case 'complete':
      await complete(step.share, step.outcome, step.duplicates);
      return;
    case 'dispatch+complete':
      await Promise.all([dispatch(step.dispatchers), complete(0.5, 'SUCCEEDED', 2)]);
      return;
    case 'cancel': {
      const all = (await deps.store.listJobs({ limit: 100 })).items.filter((j) => !isTerminal(j.state));
      const victim = all[step.pick % Math.max(1, all.length)];
      if (victim) {
        // Concurrently with dispatchers, so some land in the middle of a submission.
        await Promise.all([cancelJob(deps, victim.id).catch(() => undefined), dispatch(2)]);
      }
      return;
    }
  }
}

/** Invariants at rest: no level ever over its limit, no job released twice, counters exactly what holders hold. */
async function checkInvariants(deps: Deps): Promise<void> {
  expect(deps.executor.violations).toEqual([]);
  expect(new Set(deps.executor.submissions).size).toBe(deps.executor.submissions.length);
  const jobs: Job[] = [];
  for (const state of activeStates)
    jobs.push(...(await deps.store.jobsInStateSince(state, new Date('9999-01-01'), 1000)));
  const held = new Map<string, number>();
  for (const job of jobs.filter((j) => j.holdsSlot)) {
    for (const slot of slotsOf(job)) held.set(slot.counter, (held.get(slot.counter) ?? 0) + slot.units);
  }
  const counters = [
    'queue#main',
    'type#etl',
    'resource#warehouse',
    'key#etl#acme',
    'key#etl#zen',
    'key#etl#ops',
  ];
  for (const counter of counters) {
    const usage = await deps.store.slotUsage(counter);
    expect({ counter, used: usage.used }).toEqual({ counter, used: held.get(counter) ?? 0 });
  }
  for (const [counter, units] of deps.executor.runningUnits) {
    expect({ counter, units: units <= (held.get(counter) ?? 0) }).toEqual({ counter, units: true });
  }
}

describe('dispatchers racing on dynalite', () => {
  it('never exceed a limit at any level or release a job twice, and counters always match holders', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 4, maxLength: 10 }), async (steps) => {
        const deps = await freshDeps();
        for (const step of steps) {
          await runStep(deps, step);
          await checkInvariants(deps);
        }
        // Drain: everything ends, and every counter is back to zero.
        for (let round = 0; round < 40; round++) {
          await Promise.all(Array.from({ length: 4 }, () => dispatchQueue(deps, 'main')));
          if (deps.executor.running.size === 0) {
            const left = (await deps.store.listJobs({ limit: 100 })).items.filter(
              (j) => !isTerminal(j.state),
            );
            if (left.length === 0) break;
          }
          await Promise.all([...deps.executor.running.keys()].map((id) => finish(deps, id, 'SUCCEEDED', 2)));
          await checkInvariants(deps);
        }
        const left = (await deps.store.listJobs({ limit: 100 })).items.filter((j) => !isTerminal(j.state));
        expect(left.map((j) => j.state)).toEqual([]);
        for (const counter of ['queue#main', 'type#etl', 'resource#warehouse', 'key#etl#acme']) {
          expect((await deps.store.slotUsage(counter)).used).toBe(0);
        }
      }),
      { numRuns: Number(process.env.OFFPEAK_PROPERTY_RUNS ?? 8), endOnFailure: true },
    );
  }, 120_000);

  it('gives slots back exactly once under duplicated and out-of-order completion events', async () => {
    const deps = await freshDeps();
    for (const tenant of ['acme', 'zen', 'ops', 'acme']) {
      await submitJob(deps, SubmitRequestSchema.parse({ type: 'etl', params: { tenant } }), { kind: 'api' });
    }
    await submitJob(deps, SubmitRequestSchema.parse({ type: 'work' }), { kind: 'api' });
    await Promise.all(Array.from({ length: 6 }, () => dispatchQueue(deps, 'main')));
    expect(deps.executor.running.size).toBe(4); // three etl (type limit 3), one work
    expect((await deps.store.slotUsage('type#etl')).used).toBe(3);

    const finished = [...deps.executor.running.entries()];
    for (const [id] of finished) deps.executor.stop(id);
    // Every job's events at once: duplicates, stale RUNNING/RUNNABLE after the end, another attempt's failure.
    await Promise.all(
      finished.flatMap(([executorJobId, { jobId, request }]) => {
        const jobName = executorJobName(request.jobType, jobId);
        const statuses: ExecutorStatus[] = [
          'SUCCEEDED',
          'RUNNING',
          'SUCCEEDED',
          'RUNNABLE',
          'SUCCEEDED',
          'RUNNING',
        ];
        return [
          ...statuses.map((status) => applyExecutorUpdate(deps, { executorJobId, jobName, status })),
          applyExecutorUpdate(deps, { executorJobId: 'old-attempt', jobName, status: 'FAILED' }),
        ];
      }),
    );
    for (const counter of ['queue#main', 'type#etl', 'key#etl#acme', 'key#etl#zen', 'resource#warehouse']) {
      expect({ counter, used: (await deps.store.slotUsage(counter)).used }).toEqual({ counter, used: 0 });
    }
    expect(deps.events.events.filter((e) => e.detailType === 'Job Succeeded')).toHaveLength(4);
    // The etl job left waiting (racing dispatchers pick any three of the four) runs now, at every level.
    const [waiting] = await deps.store.queuedJobs('main', 10);
    expect(waiting?.type).toBe('etl');
    await dispatchQueue(deps, 'main');
    expect(deps.executor.running.size).toBe(1);
    expect((await deps.store.slotUsage(`key#etl#${waiting?.params.tenant}`)).used).toBe(1);
    expect((await deps.store.slotUsage('type#etl')).used).toBe(1);
  });
});
