import { describe, expect, it } from 'vitest';
import { Catalog } from '../../src/core/catalog.js';
import type { Attempt, Job } from '../../src/core/job.js';
import { executorJobName } from '../../src/core/job-name.js';
import { meteredJobStore } from '../../src/core/observability/metered-store.js';
import { type MetricDatum, MetricName } from '../../src/core/observability/metrics.js';
import { jobProgress, type ProgressSource } from '../../src/core/observability/progress.js';
import { mergeUsage } from '../../src/core/observability/resource-usage.js';
import { storeStatsSource } from '../../src/core/observability/store-stats-source.js';
import { detectStragglers, percentile } from '../../src/core/observability/stragglers.js';
import { transitionMetrics } from '../../src/core/observability/transition-metrics.js';
import { SubmitRequestSchema } from '../../src/core/requests.js';
import { dispatchQueue } from '../../src/core/services/dispatch.js';
import { recordHeartbeat } from '../../src/core/services/heartbeat.js';
import { collectStats, statsMetrics } from '../../src/core/services/stats.js';
import { submitJob } from '../../src/core/services/submit.js';
import { applyExecutorUpdate } from '../../src/core/services/track.js';
import { psTimeSeconds } from '../../src/local/process-usage.js';
import { makeJob } from '../support/jobs.js';
import { testDeps } from './support/fakes.js';

const NOW = new Date('2026-11-23T10:00:00.000Z');
const at = (seconds: number) => new Date(NOW.getTime() + seconds * 1000).toISOString();

function source(overrides: Partial<ProgressSource>): ProgressSource {
  return {
    state: 'RUNNING',
    attempt: 1,
    attempts: [{ attempt: 1, executorJobId: 'e1', startedAt: at(-100) }],
    history: [],
    ...overrides,
  };
}

describe('jobProgress', () => {
  it.each([
    ['a queued job', source({ state: 'QUEUED', attempt: 0, attempts: [] }), { fraction: 0, basis: 'state' }],
    ['a running job that reports nothing', source({}), { basis: 'none', elapsedSeconds: 100 }],
    [
      'a finished job without counters',
      source({ state: 'SUCCEEDED', attempts: [{ attempt: 1, startedAt: at(-100), stoppedAt: at(-40) }] }),
      { fraction: 1, basis: 'state', elapsedSeconds: 60 },
    ],
    [
      'records with a total: rate and ETA',
      source({ reportedProgress: { recordsDone: 250, recordsTotal: 1000, updatedAt: at(0) } }),
      {
        fraction: 0.25,
        basis: 'records',
        records: { done: 250, total: 1000 },
        ratePerSecond: 2.5,
        etaSeconds: 300,
      },
    ],
    [
      'chunk counters win over records',
      source({
        chunks: { total: 10, succeeded: 3, failed: 1, running: 2 },
        reportedProgress: { recordsDone: 5, recordsTotal: 10, updatedAt: at(0) },
      }),
      {
        fraction: 0.4,
        basis: 'chunks',
        chunks: { total: 10, succeeded: 3, failed: 1, running: 2, done: 4 },
        ratePerSecond: 0.04,
        etaSeconds: 150,
      },
    ],
    [
      'records without a total: a rate only',
      source({ reportedProgress: { recordsDone: 50, updatedAt: at(0) } }),
      { basis: 'none', ratePerSecond: 0.5 },
    ],
    [
      'bytes',
      source({ reportedProgress: { bytesDone: 512, bytesTotal: 1024, updatedAt: at(0) } }),
      { fraction: 0.5, basis: 'bytes', etaSeconds: 100 },
    ],
  ])('%s', (_name, job, expected) => {
    expect(jobProgress(job, NOW)).toMatchObject(expected);
  });

  it('gives no ETA once the job ended, and 100% when it succeeded with failed chunks tolerated', () => {
    const progress = jobProgress(
      source({ state: 'SUCCEEDED', chunks: { total: 4, succeeded: 3, failed: 1 } }),
      NOW,
    );
    expect(progress.fraction).toBe(1);
    expect(progress.etaSeconds).toBeUndefined();
  });
});

/** A RUNNING job at NOW (one attempt allowed), with `overrides`. */
function job(overrides: Partial<Job>): Job {
  return makeJob(
    {
      id: '01JAAAAAAAAAAAAAAAAAAAAAAA',
      state: 'RUNNING',
      attempt: 1,
      maxAttempts: 1,
      history: [],
      createdAt: at(-200),
      stateChangedAt: at(0),
      version: 1,
      ...overrides,
    },
    NOW,
  );
}

describe('transitionMetrics', () => {
  const ran: Attempt[] = [{ attempt: 1, startedAt: at(-30), stoppedAt: at(0) }];
  const queuedThenRunning = [
    { state: 'QUEUED' as const, at: at(-50) },
    { state: 'RUNNING' as const, at: at(-30) },
  ];
  const names = (data: MetricDatum[]) => data.map((d) => `${d.name}=${d.value}`);
  it.each([
    ['a new job', undefined, job({ state: 'QUEUED' }), ['JobsSubmitted=1']],
    [
      'a start',
      'SUBMITTED',
      job({ state: 'RUNNING', history: queuedThenRunning }),
      ['JobsStarted=1', 'QueueWaitTime=20'],
    ],
    ['a success', 'RUNNING', job({ state: 'SUCCEEDED', attempts: ran }), ['JobsSucceeded=1', 'RunTime=30']],
    [
      'a final failure (its dead letter counts JobsDeadLettered)',
      'RUNNING',
      job({ state: 'FAILED', attempts: ran }),
      ['JobsFailed=1', 'RunTime=30'],
    ],
    ['a retry', 'RUNNING', job({ state: 'RETRY_WAIT', attempts: ran }), ['JobsRetried=1', 'RunTime=30']],
    ['a cancel', 'QUEUED', job({ state: 'CANCELLED' }), ['JobsCancelled=1']],
    [
      'a chunked success',
      'RUNNING',
      job({
        state: 'SUCCEEDED',
        chunks: { total: 10, pending: 0, running: 0, succeeded: 9, failed: 1, states: 'SSSSSSSSSF' },
        run: { number: 1, manifestKey: 'manifests/J/run-1.json', arrays: [] },
      }),
      ['JobsSucceeded=1', 'ChunksCompleted=10'],
    ],
    [
      'a retry run of the two failed chunks (the earlier runs were counted when they ended)',
      'RUNNING',
      job({
        state: 'SUCCEEDED',
        chunks: { total: 10, pending: 0, running: 0, succeeded: 10, failed: 0, states: 'SSSSSSSSSS' },
        run: { number: 2, manifestKey: 'manifests/J/run-2.json', chunks: '3,9', arrays: [] },
      }),
      ['JobsSucceeded=1', 'ChunksCompleted=2'],
    ],
    ['no state change', 'RUNNING', job({ state: 'RUNNING' }), []],
  ] as const)('%s', (_name, previous, next, expected) => {
    const data = transitionMetrics(previous, next);
    expect(names(data)).toEqual(expected);
    for (const datum of data) expect(datum.dimensions).toEqual({ JobType: 'hello' });
  });
});

describe('meteredJobStore', () => {
  it('records each committed transition exactly once, and nothing for patches or lost races', async () => {
    const recorded: MetricDatum[] = [];
    const base = testDeps();
    const deps = { ...base, store: meteredJobStore(base.store, { record: (d) => recorded.push(...d) }) };
    const { job } = await submitJob(deps, SubmitRequestSchema.parse({ type: 'hello' }), { kind: 'api' });
    await dispatchQueue(deps, job.queue);
    const submitted = (await deps.store.getJob(job.id))!;
    const update = { executorJobId: submitted.executorJobId!, jobName: executorJobName('hello', job.id) };
    await applyExecutorUpdate(deps, { ...update, status: 'RUNNING', startedAt: new Date(at(1)) });
    await applyExecutorUpdate(deps, { ...update, status: 'RUNNING', startedAt: new Date(at(1)) }); // duplicate
    await applyExecutorUpdate(deps, {
      ...update,
      status: 'SUCCEEDED',
      exitCode: 0,
      startedAt: new Date(at(1)),
      stoppedAt: new Date(at(4)),
    });
    await expect(base.store.updateJob(submitted, submitted.version)).rejects.toThrow(); // a lost race records nothing
    expect(recorded.map((d) => d.name)).toEqual([
      MetricName.JobsSubmitted,
      MetricName.JobsStarted,
      MetricName.QueueWaitTime,
      MetricName.JobsSucceeded,
      MetricName.RunTime,
    ]);
    expect(recorded.find((d) => d.name === MetricName.RunTime)?.value).toBe(3);
    // Other methods pass through.
    expect((await deps.store.slotUsage('queue#normal')).used).toBe(0);
  });
});

describe('stragglers', () => {
  const spec = (type: string) => (type === 'slow' ? { expectedDurationSeconds: 600 } : undefined);
  const run = (type: string, runningSeconds: number) => ({
    jobId: `${type}-${runningSeconds}`,
    type,
    queue: 'normal',
    startedAt: at(-runningSeconds),
  });
  it.each([
    ['within its expected duration', run('slow', 500), new Map(), []],
    ['beyond its expected duration', run('slow', 700), new Map(), ['expected-duration:600']],
    [
      'no rule applies without p95 samples',
      run('other', 10_000),
      new Map([['other', { p95Seconds: 10, samples: 5 }]]),
      [],
    ],
    [
      'beyond 3 × p95 (with a one-minute floor)',
      run('other', 61),
      new Map([['other', { p95Seconds: 10, samples: 50 }]]),
      ['p95:60'],
    ],
    [
      'beyond 3 × p95',
      run('other', 400),
      new Map([['other', { p95Seconds: 120, samples: 50 }]]),
      ['p95:360'],
    ],
    [
      'the lower limit wins',
      run('slow', 400),
      new Map([['slow', { p95Seconds: 100, samples: 50 }]]),
      ['p95:300'],
    ],
  ])('%s', (_name, r, p95, expected) => {
    expect(detectStragglers([r], spec, p95, NOW).map((s) => `${s.rule}:${s.thresholdSeconds}`)).toEqual(
      expected,
    );
  });

  it.each([
    [[], 95, undefined],
    [[5], 95, 5],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95, 10],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50, 5],
  ])('percentile(%j, %i) = %s', (values, p, expected) => {
    expect(percentile(values, p)).toBe(expected);
  });
});

describe('recordHeartbeat', () => {
  async function running() {
    const deps = testDeps();
    const { job } = await submitJob(deps, SubmitRequestSchema.parse({ type: 'hello' }), { kind: 'api' });
    await dispatchQueue(deps, job.queue);
    return { deps, job: (await deps.store.getJob(job.id))! };
  }
  const usage = (cpuSeconds: number, peakMemoryMiB: number, sampledAt: string) => ({
    cpuSeconds,
    peakMemoryMiB,
    sampledAt,
  });

  it('keeps totals and peaks from going backwards, and records progress of the current attempt', async () => {
    const { deps, job } = await running();
    await recordHeartbeat(deps, job.id, {
      attempt: 1,
      usage: usage(2, 300, at(2)),
      progress: { recordsDone: 10, updatedAt: at(2) },
    });
    await recordHeartbeat(deps, job.id, {
      attempt: 1,
      usage: usage(1, 100, at(1)),
      progress: { recordsDone: 5, updatedAt: at(1) },
    });
    const after = await recordHeartbeat(deps, job.id, {
      attempt: 1,
      executorJobId: `${job.executorJobId}:3`,
      usage: usage(5, 200, at(3)),
    });
    expect(after.attempts[0]?.usage).toEqual({ cpuSeconds: 5, peakMemoryMiB: 300, sampledAt: at(3) });
    expect(after.reportedProgress).toEqual({ recordsDone: 10, updatedAt: at(2) });
    expect(after.state).toBe('SUBMITTED');
  });

  it('ignores heartbeats about another attempt or another executor job', async () => {
    const { deps, job } = await running();
    const unknownAttempt = await recordHeartbeat(deps, job.id, { attempt: 2, usage: usage(1, 1, at(1)) });
    const otherExecutor = await recordHeartbeat(deps, job.id, {
      attempt: 1,
      executorJobId: 'someone-else',
      usage: usage(1, 1, at(1)),
    });
    expect(unknownAttempt.version).toBe(job.version);
    expect(otherExecutor.version).toBe(job.version);
    await expect(
      recordHeartbeat(deps, '01JAAAAAAAAAAAAAAAAAAAAAAA', { attempt: 1, usage: usage(1, 1, at(1)) }),
    ).rejects.toThrow('No job');
  });

  it('merges GPU readings', () => {
    expect(
      mergeUsage(
        { ...usage(1, 10, at(1)), gpuMemoryMiB: 900, gpuUtilisationPercent: 80 },
        { ...usage(2, 5, at(2)), gpuUtilisationPercent: 40 },
      ),
    ).toEqual({
      cpuSeconds: 2,
      peakMemoryMiB: 10,
      gpuUtilisationPercent: 40,
      gpuMemoryMiB: 900,
      sampledAt: at(2),
    });
  });
});

describe('collectStats', () => {
  it('counts by state, queue depth and oldest wait, throughput, and publishes per-queue gauges', async () => {
    const deps = testDeps();
    for (let i = 0; i < 3; i++)
      await submitJob(deps, SubmitRequestSchema.parse({ type: 'hello' }), { kind: 'api' });
    deps.clock.advance(90_000);
    await submitJob(deps, SubmitRequestSchema.parse({ type: 'nightly-backup', params: { source: '/tmp' } }), {
      kind: 'api',
    });
    const stats = await collectStats(deps, storeStatsSource(deps.store));
    expect(stats.active.QUEUED).toBe(4);
    expect(stats.queues.find((q) => q.name === 'normal')).toMatchObject({
      depth: 3,
      oldestWaitingSeconds: 90,
      running: 0,
      concurrency: 10,
    });
    expect(stats.queues.find((q) => q.name === 'low')).toMatchObject({ depth: 1, oldestWaitingSeconds: 0 });
    expect(stats.throughput).toMatchObject({ succeeded: 0, failed: 0, perMinute: 0 });
    expect(stats.stragglers).toEqual([]);
    const gauges = statsMetrics(stats, ['hello']).map(
      (d) => `${d.name}/${JSON.stringify(d.dimensions ?? {})}=${d.value}`,
    );
    expect(gauges).toContain('QueueDepth/{"Queue":"normal"}=3');
    expect(gauges).toContain('OldestQueuedAge/{"Queue":"normal"}=90');
    expect(gauges).toContain('Stragglers/{"JobType":"hello"}=0');
    expect(gauges).toContain('Stragglers/{}=0');
  });

  it('shows the queue limit in force and the pause set at run time (PATCH /queues/{name})', async () => {
    const deps = testDeps();
    await deps.scheduling.patchQueue('normal', { concurrency: 4, paused: true });
    const stats = await collectStats(deps, storeStatsSource(deps.store), { stragglers: false });
    expect(stats.queues.find((q) => q.name === 'normal')).toMatchObject({ concurrency: 4, paused: true });
    expect(stats.queues.find((q) => q.name === 'high')).toMatchObject({ concurrency: 20, paused: false });
  });
});

describe('psTimeSeconds', () => {
  it.each([
    ['00:00:01', 1],
    ['01:02:03', 3723],
    ['2-00:00:10', 172_810],
    ['0:01.50', 1.5],
  ])('%s = %s', (text, seconds) => {
    expect(psTimeSeconds(text)).toBeCloseTo(seconds);
  });
});

describe('job type monitoring settings', () => {
  it('accept expected durations, thresholds and notification rules, and reject a rule with two targets', () => {
    const base = { name: 'x', image: 'i', command: ['c'] };
    expect(
      () =>
        new Catalog({
          jobTypes: [
            {
              ...base,
              description: '',
              vcpu: 1,
              memoryMiB: 512,
              gpu: 0,
              timeoutSeconds: 60,
              retry: {
                attempts: 1,
                baseDelaySeconds: 1,
                maxDelaySeconds: 1,
                nonRetryableExitCodes: [],
                retryAfterExitCodes: [],
                maxRetryAfterSeconds: 3600,
                nonRetryableReasons: [],
              },
              queue: 'q',
              priority: 1,
              paramsSchema: {},
              environment: {},
              secrets: {},
              notifications: [
                {
                  snsTopicArn: 'arn:aws:sns:eu-west-1:123456789012:t',
                  webhook: { url: 'https://h.example.com', secretEnv: 'S' },
                },
              ],
            },
          ],
          queues: [{ name: 'q', batchPriority: 1, order: 'fifo', concurrency: 1, onStuck: 'alert' }],
        }),
    ).toThrow(/exactly one target/);
  });
});
