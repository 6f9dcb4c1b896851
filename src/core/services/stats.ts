import type { StatsSource } from '../../ports/stats-source.js';
import type { OffpeakDeps } from '../deps.js';
import { JobState, jobStates, terminalStates } from '../job-state.js';
import { EffectiveLimits } from '../limits.js';
import { type MetricDatum, MetricDimension, MetricName } from '../observability/metrics.js';
import {
  detectStragglers,
  finishedRunSeconds,
  percentile,
  runOf,
  type Straggler,
} from '../observability/stragglers.js';
import { queueSlotCounter } from './slots.js';

/** Queue view of {@link Stats}. */
export interface QueueStats {
  readonly name: string;
  readonly order: string;
  /** The queue's concurrency limit in force (a run-time change with `PATCH /queues/{name}`, else the catalog's). */
  readonly concurrency: number;
  /** Paused with `PATCH /queues/{name}`: nothing new starts from it. */
  readonly paused: boolean;
  /** Jobs waiting (QUEUED). */
  readonly depth: number;
  /** Seconds the longest-waiting QUEUED job has waited. */
  readonly oldestWaitingSeconds?: number;
  /** Slots taken (jobs being submitted or running). */
  readonly running: number;
  /** Jobs accepted by the executor but not started for longer than the stuck threshold (Batch RUNNABLE). */
  readonly stuckRunnable: number;
}

/** What `GET /stats` returns. */
export interface Stats {
  readonly generatedAt: string;
  /** Jobs in each unfinished state now (exact). */
  readonly active: Readonly<Record<string, number>>;
  /** Jobs that reached each final state within the last `finishedWindowSeconds`. */
  readonly finished: Readonly<Record<string, number>>;
  readonly finishedWindowSeconds: number;
  readonly queues: QueueStats[];
  /** Jobs finished in the last hour. */
  readonly throughput: {
    readonly periodSeconds: number;
    readonly succeeded: number;
    readonly failed: number;
    readonly cancelled: number;
    readonly skipped: number;
    readonly perMinute: number;
  };
  /** Jobs past their expected duration or their type's recent p95 (present unless skipped). */
  readonly stragglers?: Straggler[];
  /** Recent p95 run time per job type, from up to `p95SampleSize` of the latest successful jobs. */
  readonly runTimeP95?: Readonly<Record<string, { readonly p95Seconds: number; readonly samples: number }>>;
  readonly stuckRunnableAfterSeconds: number;
}

/** Options of {@link collectStats}. */
export interface StatsOptions {
  /** Finished jobs counted per state over this window. @default 86_400 */
  readonly finishedWindowSeconds?: number;
  /** A job SUBMITTED (Batch SUBMITTED/PENDING/RUNNABLE/STARTING) longer than this is stuck. @default 1_800 */
  readonly stuckRunnableAfterSeconds?: number;
  /** Compute stragglers and p95s (reads the latest successful jobs). @default true */
  readonly stragglers?: boolean;
  /** Latest successful jobs the p95 is computed from. @default 500 */
  readonly p95SampleSize?: number;
}

const END_OF_TIME = new Date('9999-12-31T23:59:59.999Z');
/** Active jobs are bounded by the queues' limits; this only guards against a runaway. */
const ACTIVE_READ_LIMIT = 10_000;

/**
 * Counts by state, queue depth and oldest waiting age per queue, throughput over the last hour, stuck jobs and
 * stragglers. Reads only index partitions whose size is bounded by work in flight or recent work (see
 * docs/monitoring.md, "What GET /stats costs"): never the whole history.
 */
export async function collectStats(
  deps: Pick<OffpeakDeps, 'store' | 'catalog' | 'clock' | 'scheduling'>,
  source: StatsSource,
  options: StatsOptions = {},
): Promise<Stats> {
  const now = deps.clock.now();
  const windowSeconds = options.finishedWindowSeconds ?? 86_400;
  const stuckAfter = options.stuckRunnableAfterSeconds ?? 1_800;
  const hourAgo = new Date(now.getTime() - 3_600_000);
  const windowStart = new Date(now.getTime() - windowSeconds * 1000);

  const active: Record<string, number> = {};
  const finished: Record<string, number> = {};
  const lastHour: Record<string, number> = {};
  await Promise.all(
    jobStates.map(async (state) => {
      if (terminalStates.has(state)) {
        const [window, hour] = await Promise.all([
          source.countInState(state, windowStart),
          source.countInState(state, hourAgo),
        ]);
        finished[state] = window.count;
        lastHour[state] = hour.count;
      } else {
        active[state] = (await source.countInState(state)).count;
      }
    }),
  );

  const [stuck, overrides] = await Promise.all([
    deps.store.jobsInStateSince(
      JobState.Submitted,
      new Date(now.getTime() - stuckAfter * 1000),
      ACTIVE_READ_LIMIT,
    ),
    deps.scheduling.limitOverrides(),
  ]);
  const limits = new EffectiveLimits(deps.catalog, overrides);
  const queues = await Promise.all(
    deps.catalog.queues().map(async (queue): Promise<QueueStats> => {
      const [backlog, usage] = await Promise.all([
        source.queueBacklog(queue.name),
        deps.store.slotUsage(queueSlotCounter(queue.name)),
      ]);
      return {
        name: queue.name,
        order: queue.order,
        concurrency: limits.queueConcurrency(queue.name),
        paused: limits.queuePaused(queue.name),
        depth: backlog.count,
        ...(backlog.oldest !== undefined
          ? {
              oldestWaitingSeconds: Math.max(
                0,
                Math.round((now.getTime() - Date.parse(backlog.oldest)) / 1000),
              ),
            }
          : {}),
        running: usage.used,
        stuckRunnable: stuck.filter((j) => j.queue === queue.name).length,
      };
    }),
  );

  const succeeded = lastHour[JobState.Succeeded] ?? 0;
  const failed = lastHour[JobState.Failed] ?? 0;
  const cancelled = lastHour[JobState.Cancelled] ?? 0;
  const skipped = lastHour[JobState.Skipped] ?? 0;
  const base = {
    generatedAt: now.toISOString(),
    active,
    finished,
    finishedWindowSeconds: windowSeconds,
    queues,
    throughput: {
      periodSeconds: 3600,
      succeeded,
      failed,
      cancelled,
      skipped,
      perMinute: Math.round(((succeeded + failed + cancelled + skipped) / 60) * 100) / 100,
    },
    stuckRunnableAfterSeconds: stuckAfter,
  };
  if (options.stragglers === false) return base;

  const running = await deps.store.jobsInStateSince(JobState.Running, END_OF_TIME, ACTIVE_READ_LIMIT);
  const p95 = await recentRunTimeP95(deps, options.p95SampleSize ?? 500);
  const stragglers = detectStragglers(
    running.map(runOf),
    (type) => {
      try {
        return deps.catalog.jobType(type).monitoring;
      } catch {
        return undefined; // a type removed from the catalog: only the p95 rule applies
      }
    },
    p95,
    now,
  );
  return { ...base, stragglers, runTimeP95: Object.fromEntries(p95) };
}

/** p95 run time per job type over the latest successful jobs (newest first, up to `sampleSize`). */
export async function recentRunTimeP95(
  deps: Pick<OffpeakDeps, 'store'>,
  sampleSize: number,
): Promise<Map<string, { p95Seconds: number; samples: number }>> {
  const durations = new Map<string, number[]>();
  let cursor: string | undefined;
  let read = 0;
  do {
    const page = await deps.store.listJobs({
      state: JobState.Succeeded,
      limit: Math.min(100, sampleSize - read),
      ...(cursor ? { cursor } : {}),
    });
    for (const job of page.items) {
      const seconds = finishedRunSeconds(job);
      if (seconds === undefined) continue;
      const list = durations.get(job.type) ?? [];
      list.push(seconds);
      durations.set(job.type, list);
    }
    read += page.items.length;
    cursor = page.cursor;
  } while (cursor && read < sampleSize);
  const out = new Map<string, { p95Seconds: number; samples: number }>();
  for (const [type, values] of durations) {
    out.set(type, {
      p95Seconds: Math.round((percentile(values, 95) ?? 0) * 1000) / 1000,
      samples: values.length,
    });
  }
  return out;
}

/**
 * The gauges the monitor pass publishes every minute: per queue depth, oldest waiting age and stuck jobs; per
 * job type stragglers (zero too, so alarms see data); service-wide totals.
 */
export function statsMetrics(stats: Stats, jobTypes: readonly string[]): MetricDatum[] {
  const data: MetricDatum[] = [];
  for (const queue of stats.queues) {
    const dimensions = { [MetricDimension.Queue]: queue.name };
    data.push(
      { name: MetricName.QueueDepth, unit: 'Count', value: queue.depth, dimensions },
      {
        name: MetricName.OldestQueuedAge,
        unit: 'Seconds',
        value: queue.oldestWaitingSeconds ?? 0,
        dimensions,
      },
      { name: MetricName.JobsStuckRunnable, unit: 'Count', value: queue.stuckRunnable, dimensions },
    );
  }
  const stragglers = stats.stragglers ?? [];
  for (const type of new Set([...jobTypes, ...stragglers.map((s) => s.type)])) {
    data.push({
      name: MetricName.Stragglers,
      unit: 'Count',
      value: stragglers.filter((s) => s.type === type).length,
      dimensions: { [MetricDimension.JobType]: type },
    });
  }
  data.push({ name: MetricName.Stragglers, unit: 'Count', value: stragglers.length });
  return data;
}
