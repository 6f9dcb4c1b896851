import { Listr } from 'listr2';
import type { Job } from '../core/job.js';
import { isTerminal } from '../core/job-state.js';
import type { JobView } from '../core/observability/job-view.js';
import type { ApiClient } from './client.js';
import { chunkGrid, duration, type Paint, progressLine, stateText, table } from './format.js';

export interface WatchOptions {
  /** Seconds between polls. */
  readonly intervalSeconds: number;
  /** Give up after this many seconds (undefined: never). */
  readonly timeoutSeconds?: number;
  /** Live bars (a terminal) or one line per change (a pipe, a log file). */
  readonly tty: boolean;
  /** Render nothing (JSON output). @default false */
  readonly silent?: boolean;
  readonly paint: Paint;
}

/** What a watch ended with. */
export interface WatchResult {
  readonly jobs: JobView[];
  readonly timedOut: boolean;
}

/**
 * Watches jobs until each has finished: one listr2 task per job with a live progress bar (and a chunk grid for
 * chunked jobs) on a terminal; elsewhere listr2's simple renderer prints one line whenever a job's state or
 * progress changes. A job that ends other than SUCCEEDED shows as failed.
 */
export async function watchJobs(
  client: ApiClient,
  ids: readonly string[],
  options: WatchOptions,
): Promise<WatchResult> {
  const latest = new Map<string, JobView>();
  const deadline =
    options.timeoutSeconds !== undefined ? Date.now() + options.timeoutSeconds * 1000 : undefined;
  let timedOut = false;
  const tasks = new Listr(
    ids.map((id) => ({
      title: `${id}  waiting for the first update`,
      task: async (_ctx: unknown, task: { title: string; output: string }) => {
        let lastLine = '';
        for (;;) {
          const job = await client.get<JobView>(`/jobs/${encodeURIComponent(id)}`);
          latest.set(id, job);
          const line = `${job.id}  ${job.type}  ${stateText(job.state, options.paint)}  ${progressLine(job.progress)}${job.straggler ? options.paint.yellow('  straggler') : ''}`;
          task.title = line;
          const grid = chunkGrid(job.chunks);
          const summary = `${job.state} ${progressLine(job.progress)}${grid ? `  ${grid}` : ''}`;
          if (options.tty) {
            if (grid) task.output = grid;
          } else if (summary !== lastLine) {
            task.output = `${job.id} ${summary}`;
          }
          lastLine = summary;
          if (isTerminal(job.state)) {
            if (job.state !== 'SUCCEEDED') {
              throw new Error(`${job.id} ${job.state}${job.statusReason ? `: ${job.statusReason}` : ''}`);
            }
            return;
          }
          if (deadline !== undefined && Date.now() >= deadline) {
            timedOut = true;
            throw new Error(`${job.id} still ${job.state} when the watch timed out`);
          }
          await new Promise((r) => setTimeout(r, options.intervalSeconds * 1000));
        }
      },
    })),
    {
      concurrent: true,
      exitOnError: false,
      renderer: options.silent ? 'silent' : options.tty ? 'default' : 'simple',
      fallbackRenderer: 'simple',
      rendererOptions: { collapseSubtasks: false, collapseErrors: false, showErrorMessage: true },
    },
  );
  try {
    await tasks.run();
  } catch {
    // exitOnError is off: failures are in the results; a thrown error here is a rendering problem only.
  }
  const jobs = ids.flatMap((id) => {
    const job = latest.get(id);
    return job ? [job] : [];
  });
  if (jobs.length < ids.length) {
    // A job that could not be read at all (deleted, no access) surfaces as the request's own error.
    for (const id of ids) if (!latest.has(id)) await client.get<Job>(`/jobs/${encodeURIComponent(id)}`);
  }
  return { jobs, timedOut };
}

/** The end-of-watch summary table. */
export function watchSummary(jobs: readonly JobView[], p: Paint): string {
  const rows = jobs.map((job) => [
    job.id,
    job.type,
    stateText(job.state, p),
    duration(job.finishedAt ? (Date.parse(job.finishedAt) - Date.parse(job.createdAt)) / 1000 : undefined),
    job.exitCode !== undefined ? String(job.exitCode) : '-',
    `${job.attempt}/${job.maxAttempts}`,
  ]);
  const counts = new Map<string, number>();
  for (const job of jobs) counts.set(job.state, (counts.get(job.state) ?? 0) + 1);
  const totals = [...counts].map(([state, n]) => `${n} ${state}`).join(', ');
  return `${table(['JOB', 'TYPE', 'STATE', 'TOOK', 'EXIT', 'ATTEMPTS'], rows)}\n\nSummary: ${jobs.length} job${jobs.length === 1 ? '' : 's'}: ${totals}`;
}
