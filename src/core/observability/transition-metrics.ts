import { decodeIndexRanges } from '../chunk-plan.js';
import type { Job } from '../job.js';
import { JobState } from '../job-state.js';
import { type MetricDatum, MetricDimension, MetricName } from './metrics.js';

/**
 * The metrics of one committed job write: `previous` is the state before it (undefined for a new job). Pure; the
 * metered store calls it once per successful write that changed the state.
 *
 * - new job: JobsSubmitted
 * - → RUNNING: JobsStarted, QueueWaitTime (from the last time it entered QUEUED)
 * - → SUCCEEDED: JobsSucceeded, RunTime, ChunksCompleted (chunked jobs: the chunks of the run that ended)
 * - → FAILED: JobsFailed, RunTime if it ran (JobsDeadLettered is counted when its dead letter is recorded)
 * - → RETRY_WAIT: JobsRetried, RunTime of the failed attempt
 * - → CANCELLED: JobsCancelled
 */
export function transitionMetrics(previous: Job['state'] | undefined, job: Job): MetricDatum[] {
  const byType = { [MetricDimension.JobType]: job.type };
  const count = (name: MetricDatum['name']): MetricDatum => ({
    name,
    unit: 'Count',
    value: 1,
    dimensions: byType,
  });
  if (previous === undefined) return [count(MetricName.JobsSubmitted)];
  if (previous === job.state) return [];
  const data: MetricDatum[] = [];
  const runTime = attemptRunSeconds(job);
  const withRunTime = () => {
    if (runTime !== undefined)
      data.push({ name: MetricName.RunTime, unit: 'Seconds', value: runTime, dimensions: byType });
  };
  switch (job.state) {
    case JobState.Running: {
      data.push(count(MetricName.JobsStarted));
      const wait = queueWaitSeconds(job);
      if (wait !== undefined)
        data.push({ name: MetricName.QueueWaitTime, unit: 'Seconds', value: wait, dimensions: byType });
      break;
    }
    case JobState.Succeeded:
      data.push(count(MetricName.JobsSucceeded));
      withRunTime();
      break;
    case JobState.Failed:
      data.push(count(MetricName.JobsFailed));
      withRunTime();
      break;
    case JobState.RetryWait:
      data.push(count(MetricName.JobsRetried));
      withRunTime();
      break;
    case JobState.Cancelled:
      data.push(count(MetricName.JobsCancelled));
      break;
    default:
      break;
  }
  // Each chunk run is counted once, when it ends: only the chunks this run executed (a retry runs the failed ones).
  const states = job.chunks?.states;
  if (
    states &&
    job.run &&
    (job.state === JobState.Succeeded || job.state === JobState.Failed || job.state === JobState.RetryWait)
  ) {
    const indexes =
      job.run.chunks !== undefined ? decodeIndexRanges(job.run.chunks) : Array.from(states, (_, i) => i);
    const completed = indexes.filter((i) => states[i] === 'S' || states[i] === 'F').length;
    if (completed > 0)
      data.push({ name: MetricName.ChunksCompleted, unit: 'Count', value: completed, dimensions: byType });
  }
  return data;
}

/** Seconds between the job's last entry into QUEUED and its last entry into RUNNING. */
export function queueWaitSeconds(job: Pick<Job, 'history'>): number | undefined {
  const running = job.history.findLast((h) => h.state === JobState.Running);
  if (!running) return undefined;
  const queued = job.history.findLast((h) => h.state === JobState.Queued && h.at <= running.at);
  if (!queued) return undefined;
  return Math.max(0, (Date.parse(running.at) - Date.parse(queued.at)) / 1000);
}

/** Seconds the current attempt ran, when it has both a start and a stop. */
export function attemptRunSeconds(job: Pick<Job, 'attempt' | 'attempts'>): number | undefined {
  const attempt = job.attempts.find((a) => a.attempt === job.attempt);
  if (!attempt?.startedAt || !attempt.stoppedAt) return undefined;
  const seconds = (Date.parse(attempt.stoppedAt) - Date.parse(attempt.startedAt)) / 1000;
  return Number.isFinite(seconds) ? Math.max(0, seconds) : undefined;
}
