import type { LogLine, LogReader } from '../../ports/log-reader.js';
import type { Catalog } from '../catalog.js';
import type { Job } from '../job.js';
import { isTerminal, JobState } from '../job-state.js';
import { type JobProgress, jobProgress } from './progress.js';
import { detectStragglers, runOf, type Straggler } from './stragglers.js';

/** Lines of the current attempt's log included in `GET /jobs/{id}`. */
export const LAST_LOG_LINES = 20;

/** `GET /jobs/{id}`: the job with what people look at: progress, log location and last lines, straggling. */
export type JobView = Job & {
  readonly progress: JobProgress;
  readonly logs?: {
    /** The attempt whose log this is (the current or last one). */
    readonly attempt: number;
    readonly location?: string;
    readonly lastLines: LogLine[];
    /** Pass as `cursor` to `GET /jobs/{id}/logs` to follow from here. */
    readonly cursor?: string;
  };
  /** Present while the job runs past its type's expected duration. */
  readonly straggler?: Straggler;
};

/**
 * Builds the job's view. The log part is best effort: a log store that cannot be read leaves it out rather than
 * failing the request.
 */
export async function jobView(
  job: Job,
  deps: { readonly catalog: Catalog; readonly logs?: LogReader; readonly now: Date },
): Promise<JobView> {
  const progress = jobProgress(job, deps.now);
  let straggler: Straggler | undefined;
  if (job.state === JobState.Running) {
    const spec = safeSpec(deps.catalog, job.type);
    [straggler] = detectStragglers([runOf(job)], () => spec, new Map(), deps.now);
  }
  const attempt = [...job.attempts].reverse().find((a) => a.executorJobId !== undefined);
  let logs: JobView['logs'];
  if (deps.logs && attempt?.executorJobId) {
    try {
      const page = await deps.logs.read({
        jobId: job.id,
        jobType: job.type,
        executorJobId: attempt.executorJobId,
        ...(attempt.logStream ? { logStream: attempt.logStream } : {}),
        limit: LAST_LOG_LINES,
        tail: true,
        final: attempt.attempt < job.attempt || isTerminal(job.state),
      });
      logs = {
        attempt: attempt.attempt,
        ...(page.location ? { location: page.location } : {}),
        lastLines: page.lines,
        ...(page.nextCursor ? { cursor: page.nextCursor } : {}),
      };
    } catch {
      logs = { attempt: attempt.attempt, lastLines: [] };
    }
  }
  return { ...job, progress, ...(logs ? { logs } : {}), ...(straggler ? { straggler } : {}) };
}

function safeSpec(catalog: Catalog, type: string) {
  try {
    return catalog.jobType(type).monitoring;
  } catch {
    return undefined;
  }
}
