import { z } from 'zod';
import type { OffpeakDeps } from '../../src/core/deps.js';
import { NotFoundError, ValidationError } from '../../src/core/errors.js';
import type { Job } from '../../src/core/job.js';
import { isTerminal } from '../../src/core/job-state.js';
import { storeStatsSource } from '../../src/core/observability/store-stats-source.js';
import { HeartbeatSchema, recordHeartbeat } from '../../src/core/services/heartbeat.js';
import { collectStats, type Stats } from '../../src/core/services/stats.js';
import type { LogLine } from '../../src/ports/log-reader.js';
import { json, parseJsonBody, parseWith } from '../shared/http.js';
import { requireJob } from './jobs.js';
import type { Route } from './route.js';

const booleanFlag = z
  .enum(['true', 'false', '1', '0'])
  .transform((v) => v === 'true' || v === '1')
  .optional();

/** Query of `GET /jobs/{id}/logs`. */
export const LogsQuerySchema = z
  .object({
    /** Attempt number. @default the current (or last) attempt */
    attempt: z.coerce.number().int().min(1).max(1000).optional(),
    /** Chunk (array index) of a chunked job. */
    chunk: z.coerce.number().int().min(0).max(99_999).optional(),
    cursor: z.string().min(1).max(2048).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(200),
    /** The last `limit` lines instead of the first (without a cursor). */
    tail: booleanFlag,
    /** Wait (up to `wait` seconds) for new lines while the job runs. */
    follow: booleanFlag,
    wait: z.coerce.number().int().min(1).max(20).default(10),
  })
  .strict();

/** Query of `GET /stats`. */
export const StatsQuerySchema = z
  .object({
    /** Compute stragglers and p95 run times (reads the latest successful jobs). @default true */
    stragglers: booleanFlag,
  })
  .strict();

/** What `GET /jobs/{id}/logs` returns. */
export interface LogsResponse {
  readonly jobId: string;
  readonly attempt: number;
  readonly chunk?: number;
  readonly location?: string;
  /** False while the log does not exist (the attempt has not started yet). */
  readonly found: boolean;
  readonly lines: LogLine[];
  /** Continue (or follow) from here. */
  readonly cursor?: string;
  readonly state: Job['state'];
  /** The job has finished and every line it wrote has been returned. */
  readonly complete: boolean;
}

const FOLLOW_POLL_MS = 500;
/** Stats are read at most this often per API container: dashboards poll, the index reads cost. */
const STATS_CACHE_MS = 5_000;
let statsCache: { key: string; at: number; stats: Promise<Stats> } | undefined;

/** Job logs, resource heartbeats and service statistics. */
export const observabilityRoutes: readonly Route[] = [
  {
    method: 'GET',
    path: '/jobs/{id}/logs',
    handle: async (event, deps) => {
      const query = parseWith(
        LogsQuerySchema,
        event.queryStringParameters ?? {},
        'InvalidQuery',
        'Query is invalid',
      );
      let job = await requireJob(deps, event.pathParameters?.id);
      return json(
        200,
        await readLogs(deps, job, query, async () => {
          job = (await deps.store.getJob(job.id)) ?? job;
          return job;
        }),
      );
    },
  },
  {
    method: 'POST',
    path: '/jobs/{id}/heartbeat',
    handle: async (event, deps) => {
      const heartbeat = parseJsonBody(event, HeartbeatSchema);
      const job = await requireJob(deps, event.pathParameters?.id);
      const updated = await recordHeartbeat(deps, job.id, heartbeat);
      return json(200, {
        jobId: updated.id,
        state: updated.state,
        // A worker stops early when its job was cancelled.
        cancelRequested: updated.cancelRequested === true || updated.state === 'CANCELLED',
      });
    },
  },
  {
    method: 'GET',
    path: '/stats',
    handle: async (event, deps) => {
      const query = parseWith(
        StatsQuerySchema,
        event.queryStringParameters ?? {},
        'InvalidQuery',
        'Query is invalid',
      );
      const options = { stragglers: query.stragglers ?? true };
      const key = JSON.stringify(options);
      const now = Date.now();
      if (!statsCache || statsCache.key !== key || now - statsCache.at > STATS_CACHE_MS) {
        const stats = collectStats(deps, deps.stats ?? storeStatsSource(deps.store), options);
        statsCache = { key, at: now, stats };
        stats.catch(() => {
          if (statsCache?.stats === stats) statsCache = undefined;
        });
      }
      return json(200, await statsCache.stats);
    },
  },
];

/** Reads one page of a job's log; with `follow`, waits for new lines while the job runs. */
async function readLogs(
  deps: OffpeakDeps,
  job: Job,
  query: z.infer<typeof LogsQuerySchema>,
  reload: () => Promise<Job>,
): Promise<LogsResponse> {
  const reader = deps.logs;
  if (!reader) throw new NotFoundError('LogsUnavailable', 'This deployment does not serve job logs');
  const attemptNumber = query.attempt ?? job.attempt;
  const attempt = job.attempts.find((a) => a.attempt === attemptNumber);
  if (query.attempt !== undefined && !attempt) {
    throw new ValidationError('UnknownAttempt', `Job ${job.id} has no attempt ${query.attempt}`, {
      details: { attempts: job.attempts.map((a) => a.attempt) },
    });
  }
  const deadline = Date.now() + query.wait * 1000;
  let current = job;
  for (;;) {
    const record = current.attempts.find((a) => a.attempt === attemptNumber);
    // This attempt is over when the job moved on to a later attempt or finished.
    const attemptOver = isTerminal(current.state) || current.attempt > attemptNumber;
    const page =
      record?.executorJobId !== undefined
        ? await reader.read({
            jobId: current.id,
            jobType: current.type,
            executorJobId: record.executorJobId,
            ...(record.logStream ? { logStream: record.logStream } : {}),
            ...(query.chunk !== undefined ? { chunk: query.chunk } : {}),
            ...(query.cursor !== undefined ? { cursor: query.cursor } : {}),
            limit: query.limit,
            ...(query.tail ? { tail: true } : {}),
            ...(attemptOver ? { final: true } : {}),
          })
        : { lines: [], found: false, ...(query.cursor ? { nextCursor: query.cursor } : {}) };
    const response: LogsResponse = {
      jobId: current.id,
      attempt: attemptNumber,
      ...(query.chunk !== undefined ? { chunk: query.chunk } : {}),
      ...(page.location ? { location: page.location } : {}),
      found: page.found,
      lines: page.lines,
      ...(page.nextCursor ? { cursor: page.nextCursor } : {}),
      state: current.state,
      complete: attemptOver && page.lines.length < query.limit,
    };
    if (!query.follow || page.lines.length > 0 || attemptOver || Date.now() >= deadline) return response;
    await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
    current = await reload();
    // The attempt may just have ended: the next read picks up its last lines, then reports it complete.
    if (page.nextCursor) query = { ...query, cursor: page.nextCursor };
  }
}
