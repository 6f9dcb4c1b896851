import type { Job } from '../job.js';
import { type MonitoringSpec, monitoringDefaults } from './monitoring-spec.js';

/** A job (or one chunk of it) that is running now. */
export interface RunningRun {
  readonly jobId: string;
  readonly type: string;
  readonly queue: string;
  /** Array index when the run is one chunk. */
  readonly chunk?: number;
  /** ISO time the run started. */
  readonly startedAt: string;
}

/** A run that is taking abnormally long, and why it counts as one. */
export interface Straggler extends RunningRun {
  readonly runningSeconds: number;
  /** The limit it is past. */
  readonly thresholdSeconds: number;
  readonly rule: 'expected-duration' | 'p95';
  /** The type's recent p95, when known. */
  readonly p95Seconds?: number;
}

/**
 * The runs past their limit (design: "a job or chunk running abnormally long"): beyond the type's
 * `expectedDurationSeconds`, or beyond `stragglerP95Factor` × its recent p95 run time once there are enough
 * recent runs to trust it. The lower limit wins. Pure.
 *
 * @param p95ByType recent p95 run time (seconds) and sample count per job type
 */
export function detectStragglers(
  runs: readonly RunningRun[],
  specs: (type: string) => MonitoringSpec | undefined,
  p95ByType: ReadonlyMap<string, { readonly p95Seconds: number; readonly samples: number }>,
  now: Date,
): Straggler[] {
  const out: Straggler[] = [];
  for (const run of runs) {
    const runningSeconds = Math.max(0, (now.getTime() - Date.parse(run.startedAt)) / 1000);
    if (!Number.isFinite(runningSeconds)) continue;
    const spec = specs(run.type);
    const limits: { rule: Straggler['rule']; seconds: number }[] = [];
    if (spec?.expectedDurationSeconds !== undefined)
      limits.push({ rule: 'expected-duration', seconds: spec.expectedDurationSeconds });
    const p95 = p95ByType.get(run.type);
    if (p95 && p95.samples >= monitoringDefaults.minP95Samples && p95.p95Seconds > 0) {
      const factor = spec?.stragglerP95Factor ?? monitoringDefaults.stragglerP95Factor;
      // A floor of a minute: a type whose runs take two seconds should not page anyone at seven.
      limits.push({ rule: 'p95', seconds: Math.max(60, p95.p95Seconds * factor) });
    }
    const limit = limits.sort((a, b) => a.seconds - b.seconds)[0];
    if (limit && runningSeconds > limit.seconds) {
      out.push({
        ...run,
        runningSeconds: Math.round(runningSeconds),
        thresholdSeconds: limit.seconds,
        rule: limit.rule,
        ...(p95 ? { p95Seconds: p95.p95Seconds } : {}),
      });
    }
  }
  return out.sort((a, b) => b.runningSeconds - a.runningSeconds);
}

/** The `p`-th percentile (0..100) of `values` by nearest rank, or undefined for no values. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** The run of a RUNNING job (its current attempt), for {@link detectStragglers}. */
export function runOf(job: Job): RunningRun {
  const attempt = job.attempts.find((a) => a.attempt === job.attempt);
  return {
    jobId: job.id,
    type: job.type,
    queue: job.queue,
    startedAt: attempt?.startedAt ?? job.stateChangedAt,
  };
}

/** Seconds the last attempt of a finished job ran, from its attempt record. */
export function finishedRunSeconds(job: Job): number | undefined {
  const attempt = job.attempts.find((a) => a.attempt === job.attempt);
  if (!attempt?.startedAt || !attempt.stoppedAt) return undefined;
  const seconds = (Date.parse(attempt.stoppedAt) - Date.parse(attempt.startedAt)) / 1000;
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}
