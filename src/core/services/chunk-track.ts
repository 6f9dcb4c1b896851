import { type ExecutorJob, ExecutorStatus } from '../../ports/executor.js';
import { ChunkCheckpointSchema, chunkIndexOfSuccessMarker } from '../chunk-checkpoint.js';
import { chunkCheckpointKey, chunkIndexOfPartKey, resultManifestKey } from '../chunk-plan.js';
import { withinTolerance } from '../chunking-spec.js';
import type { OffpeakDeps } from '../deps.js';
import { ErrorKind, errorKindOf, type SerializedError } from '../errors.js';
import {
  type FailedChunk,
  type Job,
  MAX_FAILED_CHUNKS_ON_JOB,
  patchJob,
  transitionJob,
  withAttempt,
} from '../job.js';
import { jobIdFromExecutorName } from '../job-name.js';
import { isTerminal, JobState } from '../job-state.js';
import { addChunkUsage, type ChunkUsage } from '../observability/resource-usage.js';
import { decideRetry } from '../retry-policy.js';
import { completionPatch, runCompletionEffects } from './effects.js';
import { applyPackChildUpdates, applyPackParentUpdate } from './packing.js';
import { progressOf, requireObjects, runChunkIndexes } from './plan-execution.js';
import type { TrackOutcome } from './track.js';
import { updateJobWith } from './update-job.js';

/** Result of applying a batch of array-child updates: which updates could not be applied (to retry them). */
export interface ChildUpdatesResult {
  readonly applied: number;
  readonly ignored: number;
  /** Updates whose job write failed (retryable): the caller reports their messages as failed. */
  readonly failed: readonly { readonly update: ExecutorJob; readonly error: unknown }[];
}

/** A job run as chunks (or a pack) rather than as one executor job. */
export function isRunJob(job: Pick<Job, 'run' | 'pack'>): boolean {
  return job.run !== undefined || job.pack !== undefined;
}

/**
 * Applies many array-child state changes at once (design §1: aggregate a message batch per job before writing):
 * the updates of one job become one conditional write of its chunk states, so 10,000 chunks never hammer one
 * item. Each chunk's state only moves forward (pending → running → succeeded | failed) and counters are derived
 * from the states, so duplicated, late and shuffled events leave them exact. Updates for another run's array
 * jobs are ignored.
 */
export async function applyChildUpdates(
  deps: OffpeakDeps,
  updates: readonly ExecutorJob[],
): Promise<ChildUpdatesResult> {
  const byJob = new Map<string, ExecutorJob[]>();
  let ignored = 0;
  for (const update of updates) {
    const jobId = jobIdFromExecutorName(update.jobName);
    if (!jobId || update.arrayIndex === undefined) {
      ignored++;
      continue;
    }
    byJob.set(jobId, [...(byJob.get(jobId) ?? []), update]);
  }
  let applied = 0;
  const failed: { update: ExecutorJob; error: unknown }[] = [];
  for (const [jobId, jobUpdates] of byJob) {
    try {
      const job = await deps.store.getJob(jobId);
      if (!job) {
        ignored += jobUpdates.length;
        continue;
      }
      if (job.pack) {
        await applyPackChildUpdates(deps, job, jobUpdates);
      } else {
        await applyChunkUpdates(deps, job, jobUpdates);
      }
      applied += jobUpdates.length;
    } catch (error) {
      if (errorKindOf(error) === ErrorKind.NotFound) {
        ignored += jobUpdates.length;
        continue;
      }
      deps.log.warn('Chunk updates failed', { jobId, updates: jobUpdates.length, error: String(error) });
      for (const update of jobUpdates) failed.push({ update, error });
    }
  }
  return { applied, ignored, failed };
}

/** A run is live while its job is SUBMITTED or RUNNING. */
function isActiveRun(job: Pick<Job, 'state'>): boolean {
  return job.state === JobState.Submitted || job.state === JobState.Running;
}

const STATE_RANK: Record<string, number> = { '.': 0, R: 1, S: 2, F: 2 };

/** The chunk position a child update is about, in the job's current run; undefined for another run. */
function positionOf(job: Job, update: ExecutorJob): number | undefined {
  const parentId = update.executorJobId.replace(/:\d+$/, '');
  const array = job.run?.arrays.find((a) => a.executorJobId === parentId);
  if (!array || update.arrayIndex === undefined || update.arrayIndex >= array.size) return undefined;
  return array.offset + update.arrayIndex;
}

async function applyChunkUpdates(
  deps: OffpeakDeps,
  stored: Job,
  updates: readonly ExecutorJob[],
): Promise<void> {
  const usages = await finishedChunkUsages(deps, stored, updates);
  const outcome = await updateJobWith(
    deps,
    stored.id,
    (job) => {
      if (!job.run || !job.chunks || !isActiveRun(job)) return undefined;
      const indexes = runChunkIndexes(job);
      const states = [...job.chunks.states];
      const failures = new Map((job.failedChunks ?? []).map((f) => [f.index, f]));
      let changed = false;
      let started: ExecutorJob | undefined;
      const finished: ChunkUsage[] = [];
      for (const update of updates) {
        const position = positionOf(job, update);
        const index = position === undefined ? undefined : indexes[position];
        if (index === undefined) continue;
        const next = chunkStateOf(update.status);
        if (!next) continue;
        const current = states[index] ?? '.';
        if (STATE_RANK[next]! <= STATE_RANK[current]!) continue;
        states[index] = next;
        changed = true;
        if (next === 'R') started ??= update;
        // Counted in the write that makes the chunk terminal: once, whatever events repeat.
        const usage = next !== 'R' ? usages.get(index) : undefined;
        if (usage) finished.push(usage);
        if (next === 'F' && failures.size < MAX_FAILED_CHUNKS_ON_JOB) {
          failures.set(index, { index, error: childError(update) });
        }
      }
      if (!changed) return undefined;
      const now = deps.clock.now();
      const attemptUsage =
        finished.length > 0
          ? {
              usage: addChunkUsage(
                job.attempts.find((a) => a.attempt === job.attempt)?.usage,
                finished,
                now,
                job.chunks.succeeded + job.chunks.failed,
              ),
            }
          : {};
      const patch = {
        chunks: progressOf(states.join('')),
        failedChunks: [...failures.values()].sort((a, b) => a.index - b.index),
        ...(finished.length > 0
          ? { attempts: withAttempt(job, { attempt: job.attempt, ...attemptUsage }) }
          : {}),
      };
      if (job.state === JobState.Submitted && (started || patch.chunks.succeeded + patch.chunks.failed > 0)) {
        const at = (started ?? updates[0])?.startedAt ?? now;
        return transitionJob(job, JobState.Running, now, {
          ...patch,
          attempts: withAttempt(job, { attempt: job.attempt, startedAt: at.toISOString(), ...attemptUsage }),
        });
      }
      return patchJob(job, now, patch);
    },
    stored,
  );
  if (outcome.changed) {
    deps.log.debug('Chunk states updated', {
      jobId: stored.id,
      chunks: { ...outcome.after.chunks, states: undefined },
    });
  }
}

/** Checkpoints read at once while rolling up finished chunks' usage. */
const USAGE_READ_CONCURRENCY = 16;

/**
 * The resource use the worker recorded in the checkpoint of each chunk these updates finish (not already finished
 * on the stored job): one GET per chunk, once per chunk over the run. Best effort: a checkpoint that cannot be
 * read leaves that chunk out of the attempt's usage rather than holding back its state.
 */
async function finishedChunkUsages(
  deps: OffpeakDeps,
  stored: Job,
  updates: readonly ExecutorJob[],
): Promise<Map<number, ChunkUsage>> {
  const usages = new Map<number, ChunkUsage>();
  if (!deps.objects || !stored.run || !stored.chunks) return usages;
  const objects = deps.objects;
  const indexes = runChunkIndexes(stored);
  const wanted = new Set<number>();
  for (const update of updates) {
    const next = chunkStateOf(update.status);
    if (next !== 'S' && next !== 'F') continue;
    const position = positionOf(stored, update);
    const index = position === undefined ? undefined : indexes[position];
    if (index === undefined) continue;
    const current = stored.chunks.states[index] ?? '.';
    if (current !== 'S' && current !== 'F') wanted.add(index);
  }
  const queue = [...wanted];
  const read = async () => {
    for (let index = queue.pop(); index !== undefined; index = queue.pop()) {
      try {
        const text = await objects.getText(chunkCheckpointKey(stored.id, index));
        if (text === undefined) continue;
        const checkpoint = ChunkCheckpointSchema.safeParse(JSON.parse(text));
        if (checkpoint.success) {
          const { cpuSeconds, peakRssBytes, gpuUtilisationPercent, gpuMemoryMiB } = checkpoint.data;
          usages.set(index, {
            cpuSeconds,
            peakRssBytes,
            ...(gpuUtilisationPercent !== undefined ? { gpuUtilisationPercent } : {}),
            ...(gpuMemoryMiB !== undefined ? { gpuMemoryMiB } : {}),
          });
        }
      } catch (error) {
        deps.log.debug('Chunk usage unreadable', { jobId: stored.id, chunk: index, error: String(error) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(USAGE_READ_CONCURRENCY, queue.length) }, read));
  return usages;
}

function chunkStateOf(status: ExecutorStatus): 'R' | 'S' | 'F' | undefined {
  if (status === ExecutorStatus.Running) return 'R';
  if (status === ExecutorStatus.Succeeded) return 'S';
  if (status === ExecutorStatus.Failed) return 'F';
  return undefined;
}

function childError(update: ExecutorJob): SerializedError {
  return {
    name: 'ChunkFailed',
    message: update.statusReason ?? 'the chunk container failed',
    code: update.exitCode !== undefined ? `ExitCode${update.exitCode}` : 'NoExitCode',
  };
}

/**
 * Applies a state change of one of a run's own executor jobs (an array parent, or the plain job of a one-chunk
 * plan): marks the array done when it ended and, once every array of the run is done, finalizes the job.
 * Called by the tracker (and so by the reconciler) for jobs that {@link isRunJob}.
 */
export async function applyRunUpdate(
  deps: OffpeakDeps,
  stored: Job,
  update: ExecutorJob,
  random: () => number = Math.random,
): Promise<TrackOutcome> {
  if (stored.pack) return applyPackParentUpdate(deps, stored, update, random);
  const array = stored.run?.arrays.find((a) => a.executorJobId === update.executorJobId);
  // Only a submitted or running run can end: a late event of an earlier run finds the job queued, submitting
  // its next run, or finished.
  if (!array || !isActiveRun(stored)) {
    if (stored.effectsPending && isTerminal(stored.state)) await runCompletionEffects(deps, stored);
    return { kind: 'unchanged', jobId: stored.id, state: stored.state };
  }
  if (update.status !== ExecutorStatus.Succeeded && update.status !== ExecutorStatus.Failed) {
    // A one-chunk plan is a plain job: its own RUNNING is its chunk's.
    if (update.status === ExecutorStatus.Running && array.size === 1 && stored.run?.arrays.length === 1) {
      await applyChunkUpdates(deps, stored, [
        { ...update, executorJobId: `${update.executorJobId}:0`, arrayIndex: 0 },
      ]);
    }
    return { kind: 'unchanged', jobId: stored.id, state: stored.state };
  }
  if (array.size === 1) {
    await applyChunkUpdates(deps, stored, [
      { ...update, executorJobId: `${update.executorJobId}:0`, arrayIndex: 0 },
    ]);
  }
  // Other arrays of the run whose end was not seen (lost events): ask the executor.
  const others = (stored.run?.arrays ?? []).filter((a) => !a.done && a.executorJobId !== array.executorJobId);
  const described = others.length > 0 ? await deps.executor.describe(others.map((a) => a.executorJobId)) : [];
  const ended = new Set([
    array.executorJobId,
    ...others
      .filter((a) => {
        const found = described.find((d) => d.executorJobId === a.executorJobId);
        // An array job the executor no longer knows will never report: count it as ended.
        return !found || found.status === ExecutorStatus.Succeeded || found.status === ExecutorStatus.Failed;
      })
      .map((a) => a.executorJobId),
  ]);
  const marked = await updateJobWith(deps, stored.id, (job) => {
    if (!job.run || !isActiveRun(job)) return undefined;
    if (job.run.arrays.every((a) => a.done || !ended.has(a.executorJobId))) return undefined;
    return patchJob(job, deps.clock.now(), {
      run: {
        ...job.run,
        arrays: job.run.arrays.map((a) => (ended.has(a.executorJobId) ? { ...a, done: true } : a)),
      },
    });
  });
  const job = marked.changed ? marked.after : marked.job;
  if (!job.run?.arrays.every((a) => a.done)) {
    return { kind: 'unchanged', jobId: job.id, state: job.state };
  }
  return finalizeRun(deps, job, update, random);
}

/** What the result manifest says about a run. */
export interface RunResult {
  readonly states: string;
  readonly parts: { chunk: number; key: string; uri: string; bytes: number }[];
  readonly failed: FailedChunk[];
}

/**
 * Ends a run from the sources of truth in S3 (events may have been lost): a chunk succeeded when its success
 * marker exists (written by the worker after its output part was complete). Writes the result manifest, then
 * decides through the failure policy and the retry policy: SUCCEEDED (failures within tolerance are listed),
 * RETRY_WAIT (a later run retries only the failed chunks) or FAILED.
 */
export async function finalizeRun(
  deps: OffpeakDeps,
  stored: Job,
  update: ExecutorJob,
  random: () => number = Math.random,
): Promise<TrackOutcome> {
  const objects = requireObjects(deps);
  const result = await collectRunResult(deps, stored);
  const type = deps.catalog.jobType(stored.type);
  const total = result.states.length;
  const failedCount = result.failed.length;
  const manifestKey = resultManifestKey(stored.id);
  await objects.put(
    manifestKey,
    JSON.stringify(
      {
        version: 1,
        jobId: stored.id,
        type: stored.type,
        run: stored.run?.number,
        attempt: stored.attempt,
        input: stored.input,
        chunks: { total, succeeded: total - failedCount, failed: failedCount },
        parts: result.parts,
        failedChunks: result.failed,
        createdAt: deps.clock.now().toISOString(),
      },
      null,
      2,
    ),
    'application/json',
  );
  const policy = type.failurePolicy ?? { toleratedFailurePercent: 0, toleratedFailureCount: 0 };
  const tolerated = withinTolerance(policy, failedCount, total);
  let from: JobState = stored.state;
  const outcome = await updateJobWith(deps, stored.id, (job) => {
    if (!isActiveRun(job) || job.run?.number !== stored.run?.number) return undefined;
    from = job.state;
    const now = deps.clock.now();
    const common = {
      chunks: progressOf(result.states),
      failedChunks: result.failed.slice(0, MAX_FAILED_CHUNKS_ON_JOB),
      resultManifestUri: objects.uri(manifestKey),
      ...completionPatch(job),
    };
    const attemptRecord = {
      attempt: job.attempt,
      executorJobId: job.executorJobId ?? update.executorJobId,
      stoppedAt: (update.stoppedAt ?? now).toISOString(),
    };
    if (job.cancelRequested) {
      return transitionJob(
        job,
        JobState.Cancelled,
        now,
        { ...common, attempts: withAttempt(job, { ...attemptRecord, outcome: 'CANCELLED' }) },
        'cancelled',
      );
    }
    if (tolerated) {
      const reason =
        failedCount === 0 ? undefined : `${failedCount} of ${total} chunks failed, within the failure policy`;
      return transitionJob(
        job,
        JobState.Succeeded,
        now,
        {
          ...common,
          attempts: withAttempt(job, { ...attemptRecord, outcome: 'SUCCEEDED' }),
          ...(reason ? { statusReason: reason } : {}),
        },
        reason,
      );
    }
    const message = `${failedCount} of ${total} chunks failed (tolerated: ${policy.toleratedFailureCount} or ${policy.toleratedFailurePercent} %)`;
    const finished = {
      ...common,
      attempts: withAttempt(job, { ...attemptRecord, outcome: 'FAILED', statusReason: message }),
      statusReason: message,
    };
    const decision = decideRetry(type.retry, { attempt: job.attempt, statusReason: message }, random);
    if (decision.kind === 'retry') {
      const retryAt = new Date(now.getTime() + decision.delayMs).toISOString();
      return transitionJob(
        job,
        JobState.RetryWait,
        now,
        { ...finished, retryAt },
        `${decision.reason}: failed chunks only`,
      );
    }
    return transitionJob(
      job,
      JobState.Failed,
      now,
      { ...finished, error: { name: 'ChunksFailed', message, code: 'ChunksFailed' } },
      decision.reason,
    );
  });
  if (!outcome.changed) {
    if (outcome.job.effectsPending) await runCompletionEffects(deps, outcome.job);
    return { kind: 'unchanged', jobId: stored.id, state: outcome.job.state };
  }
  deps.log.info('Chunk run finished', {
    jobId: stored.id,
    run: stored.run?.number,
    to: outcome.after.state,
    chunks: total,
    failed: failedCount,
  });
  await runCompletionEffects(deps, outcome.after);
  return { kind: 'changed', jobId: stored.id, from, to: outcome.after.state };
}

/** Reads which chunks succeeded (success markers), their parts, and why the others failed. */
export async function collectRunResult(deps: OffpeakDeps, job: Job): Promise<RunResult> {
  const objects = requireObjects(deps);
  const total = job.chunks?.total ?? 0;
  const succeeded = new Set<number>();
  for (const info of await objects.list(`checkpoints/${job.id}/succeeded/`)) {
    const index = chunkIndexOfSuccessMarker(job.id, info.key);
    if (index !== undefined) succeeded.add(index);
  }
  const parts = (await objects.list(`outputs/${job.id}/part-`))
    .map((info) => ({ info, chunk: chunkIndexOfPartKey(job.id, info.key) }))
    .filter(
      (p): p is { info: typeof p.info; chunk: number } => p.chunk !== undefined && succeeded.has(p.chunk),
    )
    .map(({ info, chunk }) => ({ chunk, key: info.key, uri: objects.uri(info.key), bytes: info.size }))
    .sort((a, b) => a.chunk - b.chunk);
  const states = Array.from({ length: total }, (_, i) => (succeeded.has(i) ? 'S' : 'F')).join('');
  const fromEvents = new Map((job.failedChunks ?? []).map((f) => [f.index, f.error]));
  const failed: FailedChunk[] = [];
  for (let index = 0; index < total; index++) {
    if (succeeded.has(index)) continue;
    // The worker's own account of the failure is the clearest; read it for the first failures only.
    const error =
      failed.length < MAX_FAILED_CHUNKS_ON_JOB ? await workerError(deps, job.id, index) : undefined;
    failed.push({
      index,
      error: error ??
        fromEvents.get(index) ?? {
          name: 'ChunkFailed',
          message: 'the worker stopped before finishing the chunk (killed, timed out or lost)',
          code: 'ChunkIncomplete',
        },
    });
  }
  return { states, parts, failed };
}

async function workerError(
  deps: OffpeakDeps,
  jobId: string,
  index: number,
): Promise<SerializedError | undefined> {
  const text = await requireObjects(deps).getText(chunkCheckpointKey(jobId, index));
  if (text === undefined) return undefined;
  const parsed = ChunkCheckpointSchema.safeParse(JSON.parse(text));
  if (!parsed.success) return undefined;
  if (parsed.data.error) return parsed.data.error;
  if (parsed.data.state === 'running') {
    return {
      name: 'ChunkFailed',
      message: `the worker stopped mid-chunk after ${parsed.data.progress.records} records (killed, timed out or lost); a retry resumes at byte ${parsed.data.offset}`,
      code: 'WorkerStopped',
    };
  }
  return undefined;
}
