import type { ExecutionHandle } from '../../ports/executor.js';
import type { CatalogJobType } from '../catalog.js';
import { CrashPoint, crashPoint } from '../crash-point.js';
import type { OffpeakDeps } from '../deps.js';
import { ConcurrentUpdateError, ErrorKind, errorKindOf, RetryableError, serializeError } from '../errors.js';
import type { Job, JobPatch } from '../job.js';
import { patchJob, transitionJob, withAttempt } from '../job.js';
import { jobEnvironment } from '../job-environment.js';
import { executorJobName } from '../job-name.js';
import { JobState } from '../job-state.js';
import { ioEnvironment } from '../output-location.js';
import type { RateLimit } from '../rate-limit.js';
import { RETRY_MARKER_ENV } from '../retry-marker.js';
import { type PlannedSlot, SlotLevel, slotPlan } from '../slot-plan.js';
import { DispatchPass, SUBMIT_BUCKET } from './dispatch-pass.js';
import { clampDelaySeconds, completionPatch, releaseSlotsOf, runCompletionEffects } from './effects.js';
import { packingDeferralSeconds } from './packing.js';
import { type ExecutionPlan, planExecution } from './plan-execution.js';
import { queueSlotCounter, resourceSlotCounter } from './slots.js';
import { updateJobWith } from './update-job.js';

/** What one dispatch pass over a queue did. */
export interface DispatchSummary {
  readonly queue: string;
  readonly released: number;
  /** True when the pass stopped because the queue's concurrency limit was reached. */
  readonly full: boolean;
  readonly failed: number;
  /** True when the queue is paused (`PATCH /queues/{name}`): nothing was released. */
  readonly paused?: boolean;
  /** Counters (job type, key or resource) at their limit that held jobs back while others ran. */
  readonly blockedBy?: string[];
  /** The pass stopped on a rate limit or on executor throttling; the dispatcher is woken again after this long. */
  readonly retryAfterMs?: number;
}

/** The error code an executor adapter gives a submission the executor throttled (after the SDK's own retries). */
export const EXECUTOR_THROTTLED = 'ExecutorThrottled';

/** Waiting jobs read per index page. */
const PAGE = 50;

type ReleaseResult =
  | { readonly kind: 'released' | 'lost' | 'failed' | 'queue-full' }
  | { readonly kind: 'blocked'; readonly counter: string }
  /** `stopsQueue`: the limit applies to every job of the queue (queue rate, executor submissions). */
  | {
      readonly kind: 'limited';
      readonly bucket: string;
      readonly retryAfterMs: number;
      readonly stopsQueue: boolean;
    };

/**
 * Admission control (design §1): releases a queue's waiting jobs to the executor in dispatch order while every
 * limit allows: the queue's concurrency, the job type's, the concurrency key's, each shared resource's, the queue's and
 * resources' rate limits, and the global executor-submission smoother.
 *
 * Correct under any number of concurrent dispatchers: a job is claimed by a conditional write (QUEUED → SUBMITTING,
 * recording the slots it takes) before its slots are taken, each by a conditional counter update (`used + units ≤
 * limit`) in a fixed order; when a level is full the slots already taken are given back and the job returns to the
 * queue. A job held back by its type, key or resource does not hold up the jobs behind it; a full queue stops the pass.
 * Cost per released job: the claim, one write per level, the record (3 writes with the queue level alone), plus a
 * share of the submission token writes.
 */
export async function dispatchQueue(
  deps: OffpeakDeps,
  queueName: string,
  pass?: DispatchPass,
): Promise<DispatchSummary> {
  const queue = deps.catalog.queue(queueName);
  const current = pass ?? (await DispatchPass.start(deps));
  if (current.limits.queuePaused(queue.name)) {
    return { queue: queue.name, released: 0, full: false, failed: 0, paused: true };
  }
  const batch = deps.settings.dispatchBatchSize;
  let released = 0;
  let failed = 0;
  let scanned = 0;
  const blocked = new Set<string>();
  const summary = (extra: Partial<DispatchSummary> = {}): DispatchSummary => ({
    queue: queue.name,
    released,
    full: false,
    failed,
    ...(blocked.size > 0 ? { blockedBy: [...blocked] } : {}),
    ...extra,
  });

  // Small-job packing (issue 5): a packable job waits for its window so that others can join its pack; the
  // queue is looked at again when the earliest window closes.
  let deferredSeconds: number | undefined;
  const finish = async (extra: Partial<DispatchSummary> = {}): Promise<DispatchSummary> => {
    if (deferredSeconds !== undefined) {
      await deps.dispatchQueue.send(
        { kind: 'nudge', queue: queue.name },
        { delaySeconds: Math.ceil(deferredSeconds) },
      );
    }
    return summary(extra);
  };

  let startAfter: Job | undefined;
  while (released + failed < batch && scanned < deps.settings.dispatchScanLimit) {
    const page = await deps.store.queuedJobs(queue.name, PAGE, startAfter);
    scanned += page.length;
    for (let i = 0; i < page.length && released + failed < batch; ) {
      const candidate = page[i] as Job;
      const wait = packingDeferralSeconds(deps, candidate);
      if (wait !== undefined) {
        deferredSeconds = Math.min(deferredSeconds ?? wait, wait);
        i++;
        continue;
      }
      const result = await releaseJob(deps, current, candidate, batch - released - failed);
      switch (result.kind) {
        case 'released':
        case 'failed':
          if (result.kind === 'released') released++;
          else failed++;
          i++;
          break;
        case 'lost':
          // Another dispatcher claimed it: jump to a random job further down the page rather than queue up behind
          // that dispatcher for every next job. A lone dispatcher never loses, so it keeps the exact dispatch order.
          i += 1 + Math.floor(Math.random() * Math.max(0, page.length - i - 1));
          break;
        case 'blocked':
          blocked.add(result.counter);
          i++;
          break;
        case 'queue-full':
          return finish({ full: true });
        case 'limited':
          if (!result.stopsQueue) {
            blocked.add(result.bucket);
            i++;
            break;
          }
          await wakeLater(deps, queue.name, result.retryAfterMs);
          return finish({ retryAfterMs: result.retryAfterMs });
      }
    }
    if (page.length < PAGE) return finish();
    startAfter = page[page.length - 1];
  }
  // Stopped by the batch size with jobs left: carry on in another invocation rather than at the next tick.
  if (released + failed >= batch) await deps.dispatchQueue.send({ kind: 'nudge', queue: queue.name });
  return finish();
}

/** Dispatches every queue of the catalog, with the limits in force read once. */
export async function dispatchAll(deps: OffpeakDeps): Promise<DispatchSummary[]> {
  const pass = await DispatchPass.start(deps);
  const summaries: DispatchSummary[] = [];
  for (const queue of deps.catalog.queues()) summaries.push(await dispatchQueue(deps, queue.name, pass));
  return summaries;
}

/** The rate-limit buckets a job takes a token of before it starts. */
function rateBuckets(
  deps: OffpeakDeps,
  job: Job,
  type: CatalogJobType,
): Array<{ bucket: string; rate: RateLimit; stopsQueue: boolean }> {
  const buckets: Array<{ bucket: string; rate: RateLimit; stopsQueue: boolean }> = [];
  const queueRate = deps.catalog.queue(job.queue).rate;
  if (queueRate) buckets.push({ bucket: queueSlotCounter(job.queue), rate: queueRate, stopsQueue: true });
  for (const name of Object.keys(type.resources ?? {}).sort()) {
    const rate = deps.catalog.findResource(name)?.rate;
    if (rate) buckets.push({ bucket: resourceSlotCounter(name), rate, stopsQueue: false });
  }
  return buckets;
}

async function releaseJob(
  deps: OffpeakDeps,
  pass: DispatchPass,
  candidate: Job,
  wanted: number,
): Promise<ReleaseResult> {
  const type = deps.catalog.jobTypes().find((t) => t.name === candidate.type);
  if (!type) return failUnknownType(deps, candidate);
  const plan = slotPlan(candidate, type, pass.limits);
  const buckets = rateBuckets(deps, candidate, type);

  // What this pass already knows costs no write: a full level, an empty bucket.
  for (const slot of plan) {
    if (await pass.looksFull(slot)) return fullResult(slot);
  }
  for (const { bucket, stopsQueue } of [
    ...buckets,
    ...(deps.settings.submitRate ? [{ bucket: SUBMIT_BUCKET, stopsQueue: true }] : []),
  ]) {
    const until = pass.emptyUntil(bucket);
    if (until !== undefined) {
      return { kind: 'limited', bucket, retryAfterMs: until - deps.clock.now().getTime(), stopsQueue };
    }
  }

  // Rate tokens before the claim: an empty bucket then costs one read, not a claim and its undoing.
  const taken: string[] = [];
  const putBack = () => {
    for (const bucket of taken) pass.putBack(bucket);
  };
  for (const { bucket, rate, stopsQueue } of buckets) {
    const limited = await pass.takeToken(bucket, rate);
    if (limited) {
      putBack();
      return { kind: 'limited', ...limited, stopsQueue };
    }
    taken.push(bucket);
  }
  const submitLimited = await pass.takeSubmitToken(wanted);
  if (submitLimited) {
    putBack();
    return { kind: 'limited', ...submitLimited, stopsQueue: true };
  }
  if (deps.settings.submitRate) taken.push(SUBMIT_BUCKET);

  // The claim records the slots before any counter moves, so the reconciler's recount always sees their holder.
  const token = `${candidate.id}@${candidate.version + 1}`;
  let job: Job;
  try {
    job = await deps.store.updateJob(
      transitionJob(candidate, JobState.Submitting, deps.clock.now(), {
        holdsSlot: true,
        slotReleasePending: false,
        slots: plan.map(({ counter, units }) => ({ counter, units })),
        slotToken: token,
      }),
      candidate.version,
    );
  } catch (error) {
    putBack();
    if (error instanceof ConcurrentUpdateError) return { kind: 'lost' };
    throw error;
  }

  crashPoint(deps, CrashPoint.DispatchAfterClaim);

  const acquired: PlannedSlot[] = [];
  for (const slot of plan) {
    if (!(await deps.store.acquireSlot(slot.counter, slot.limit, slot.units))) {
      pass.full(slot);
      putBack();
      await giveBack(deps, pass, job, acquired, `no free slot: ${slot.counter}`);
      return fullResult(slot);
    }
    pass.acquired(slot);
    acquired.push(slot);
  }

  crashPoint(deps, CrashPoint.DispatchAfterSlot);
  // The reconciler re-queues a claim older than submittingTimeoutMs: never submit on a claim that old, or the job
  // could run twice (this pass was slow: throttling, retries). Half the timeout leaves room for the submit itself.
  if (deps.clock.now().getTime() - Date.parse(job.stateChangedAt) > deps.settings.submittingTimeoutMs / 2) {
    putBack();
    await giveBack(deps, pass, job, acquired, 'claim too old');
    deps.log.warn('Dispatch claim too old; released for a later pass', { jobId: job.id });
    return { kind: 'lost' };
  }

  const attempt = job.attempt + 1;
  // Chunked runs (manifest + array jobs), packs and inputs are planned here; a plain job is one submission.
  let execution: ExecutionPlan | undefined;
  const handles: ExecutionHandle[] = [];
  try {
    execution = await planExecution(deps, job, attempt);
    for (const submission of execution.submissions) {
      handles.push(
        await deps.executor.submit({
          jobId: job.id,
          jobName: executorJobName(job.type, job.id),
          jobType: job.type,
          queue: job.queue,
          attempt,
          environment: {
            ...jobEnvironment(job, attempt),
            ...ioEnvironment(job, deps.settings),
            // Where the job may ask for a later retry ("retry after", docs/reliability.md).
            ...(deps.retryMarkers ? { [RETRY_MARKER_ENV]: deps.retryMarkers.location(job.id, attempt) } : {}),
            ...submission.environment,
          },
          timeoutSeconds: type.timeoutSeconds,
          ...(submission.arraySize !== undefined ? { arraySize: submission.arraySize } : {}),
          tags: { 'offpeak:jobId': job.id, 'offpeak:jobType': job.type, 'offpeak:attempt': String(attempt) },
        }),
      );
    }
  } catch (error) {
    // Part of a multi-array run was submitted: stop it, so the retry does not run those chunks twice.
    for (const submitted of handles) {
      await deps.executor
        .terminate(submitted.executorJobId, 'the rest of the run could not be submitted')
        .catch(() => {});
    }
    await execution?.abandon?.();
    return handleSubmitError(deps, pass, job, acquired, error);
  }
  const handle = handles[0];
  if (!handle) throw new Error(`Execution plan of job ${job.id} has no submission`);
  const executionPatch = execution.patch(handles);
  crashPoint(deps, CrashPoint.DispatchAfterSubmit);

  const recorded = await updateJobWith(
    deps,
    job.id,
    (current) => {
      // Only our own claim is ours to record (the reconciler may have re-queued it and another pass claimed it).
      if (current.state !== JobState.Submitting || current.slotToken !== token) return undefined;
      if (current.executorJobId === handle.executorJobId) return undefined;
      const now = deps.clock.now();
      if (current.cancelRequested) {
        // Cancelled while we were submitting (cancelJob only marks a SUBMITTING job): we complete the cancel, and
        // the completion effects give our slots back.
        return cancelWhileSubmitting(current, now, {
          attempt,
          executorJobId: handle.executorJobId,
          attempts: withAttempt(current, {
            attempt,
            executorJobId: handle.executorJobId,
            submittedAt: now.toISOString(),
            outcome: 'CANCELLED',
          }),
          ...completionPatch(current),
        });
      }
      return transitionJob(current, JobState.Submitted, now, {
        attempt,
        executorJobId: handle.executorJobId,
        runSpec: {
          typeVersion: type.version,
          jobDefinition: handle.jobDefinition,
          image: handle.image,
          command: [...handle.command],
        },
        attempts: withAttempt(current, {
          attempt,
          executorJobId: handle.executorJobId,
          submittedAt: now.toISOString(),
        }),
        ...executionPatch,
      });
    },
    // The claimed job as written: no read unless someone wrote since (then the conditional write re-reads).
    job,
  );
  const after = recorded.changed ? recorded.after : recorded.job;
  if (!recorded.changed && after.executorJobId !== handle.executorJobId) {
    // Our claim was taken from us while we submitted: what we submitted must not run beside the job's real attempt.
    for (const submitted of handles) {
      await deps.executor.terminate(
        submitted.executorJobId,
        'Superseded: the job was claimed again during a slow submit',
      );
    }
    await execution.abandon?.();
    deps.log.warn('Dispatch superseded; its executor jobs terminated', {
      jobId: job.id,
      executorJobId: handle.executorJobId,
    });
    return { kind: 'lost' };
  }
  if (after.state === JobState.Cancelled) {
    // Cancelled while we were submitting: the executor jobs must not run.
    for (const submitted of handles)
      await deps.executor.terminate(submitted.executorJobId, 'Cancelled by user during submission');
    if (recorded.changed) {
      await execution.abandon?.();
      for (const slot of acquired) pass.released(slot);
      await runCompletionEffects(deps, after);
    }
    return { kind: 'released' };
  }
  if (recorded.changed) await execution.afterRecord?.(handles);
  deps.log.info('Job released to executor', { jobId: job.id, executorJobId: handle.executorJobId, attempt });
  return { kind: 'released' };
}

function fullResult(slot: PlannedSlot): ReleaseResult {
  return slot.level === SlotLevel.Queue ? { kind: 'queue-full' } : { kind: 'blocked', counter: slot.counter };
}

/**
 * Gives back the slots this claim took, then puts the job back in the queue. Counters first, job second: until the
 * job is written it still counts as their holder, so a recount in between can only see too many, never too few.
 * A job cancelled meanwhile (a cancel during SUBMITTING leaves the slots to us) just stops holding them.
 */
async function giveBack(
  deps: OffpeakDeps,
  pass: DispatchPass,
  job: Job,
  acquired: readonly PlannedSlot[],
  reason: string,
): Promise<void> {
  for (const slot of [...acquired].reverse()) {
    await deps.store.releaseSlot(slot.counter, slot.units, job.slotToken);
    pass.released(slot);
  }
  const outcome = await updateJobWith(
    deps,
    job.id,
    (current) => {
      if (current.slotToken !== job.slotToken || !current.holdsSlot) return undefined;
      const now = deps.clock.now();
      if (current.state === JobState.Submitting && current.cancelRequested) {
        // A cancel was asked for meanwhile: it ends here rather than back in the queue.
        return cancelWhileSubmitting(current, now, {
          holdsSlot: false,
          slotReleasePending: false,
          slots: undefined,
          slotToken: undefined,
        });
      }
      if (current.state === JobState.Submitting) {
        return transitionJob(
          current,
          JobState.Queued,
          now,
          { holdsSlot: false, slots: undefined, slotToken: undefined },
          reason,
        );
      }
      return current.state === JobState.Cancelled ? patchJob(current, now, { holdsSlot: false }) : undefined;
    },
    job,
  );
  // The counters are back already: the cancel's effects publish and resolve dependents, nothing else.
  if (outcome.changed && outcome.after.state === JobState.Cancelled && outcome.after.effectsPending)
    await runCompletionEffects(deps, outcome.after);
}

/** SUBMITTING → CANCELLED for a cancel requested while the job was being submitted (see `cancelJob`). */
export function cancelWhileSubmitting(job: Job, now: Date, patch: JobPatch): Job {
  const reason = job.statusReason ?? 'Cancelled by user';
  return transitionJob(
    job,
    JobState.Cancelled,
    now,
    { effectsPending: true, ...patch, statusReason: reason },
    `${reason} (while being submitted)`,
  );
}

async function handleSubmitError(
  deps: OffpeakDeps,
  pass: DispatchPass,
  job: Job,
  acquired: readonly PlannedSlot[],
  error: unknown,
): Promise<ReleaseResult> {
  const kind = errorKindOf(error);
  const permanent = kind === ErrorKind.NonRetryable || kind === ErrorKind.Validation;
  const throttled = error instanceof RetryableError && error.code === EXECUTOR_THROTTLED;
  deps.log.warn('Executor submit failed', {
    jobId: job.id,
    permanent,
    throttled,
    error: serializeError(error),
  });
  if (!permanent) {
    // Throttling or an outage: the job keeps its place and no error reaches its user; submissions pause.
    await giveBack(
      deps,
      pass,
      job,
      acquired,
      throttled ? 'executor throttled; will retry' : 'submit failed; will retry',
    );
    const pauseMs = jitter(
      error instanceof RetryableError && error.retryAfterMs !== undefined
        ? Math.max(error.retryAfterMs, deps.settings.throttleBackoffMs)
        : deps.settings.throttleBackoffMs,
    );
    if (throttled) await pass.throttled(pauseMs);
    return { kind: 'limited', bucket: SUBMIT_BUCKET, retryAfterMs: pauseMs, stopsQueue: true };
  }
  const outcome = await updateJobWith(deps, job.id, (current) => {
    if (current.state !== JobState.Submitting || current.slotToken !== job.slotToken) return undefined;
    if (current.cancelRequested)
      return cancelWhileSubmitting(current, deps.clock.now(), completionPatch(current));
    return transitionJob(
      current,
      JobState.Failed,
      deps.clock.now(),
      { ...completionPatch(current), error: serializeError(error), statusReason: 'submit failed' },
      'submit failed',
    );
  });
  if (!outcome.changed) {
    await giveBack(deps, pass, job, acquired, 'submit failed');
    return { kind: 'lost' };
  }
  for (const slot of acquired) pass.released(slot);
  await runCompletionEffects(deps, outcome.after);
  return { kind: 'failed' };
}

/** A job whose type left the catalog can never run: it fails (QUEUED → FAILED) instead of blocking its queue. */
async function failUnknownType(deps: OffpeakDeps, candidate: Job): Promise<ReleaseResult> {
  const outcome = await updateJobWith(
    deps,
    candidate.id,
    (current) =>
      current.state === JobState.Queued && current.version === candidate.version
        ? transitionJob(
            current,
            JobState.Failed,
            deps.clock.now(),
            {
              ...completionPatch(current),
              error: {
                name: 'ValidationError',
                code: 'UnknownJobType',
                message: `Job type "${current.type}" is no longer deployed`,
              },
              statusReason: 'unknown job type',
            },
            'unknown job type',
          )
        : undefined,
    candidate,
  ).catch((error: unknown) => {
    if (errorKindOf(error) === ErrorKind.NotFound) return undefined;
    throw error;
  });
  if (!outcome?.changed) return { kind: 'lost' };
  await runCompletionEffects(deps, outcome.after);
  return { kind: 'failed' };
}

/** A delayed nudge: a rate limit or a back-off ends in `ms`. */
async function wakeLater(deps: OffpeakDeps, queue: string, ms: number): Promise<void> {
  await deps.dispatchQueue.send(
    { kind: 'nudge', queue },
    { delaySeconds: Math.max(1, clampDelaySeconds(ms)) },
  );
}

function jitter(ms: number): number {
  return Math.round(ms * (0.75 + Math.random() * 0.5));
}

/** Re-queues a RETRY_WAIT job whose backoff is over. Returns the job, requeued or not. */
export async function releaseRetry(deps: OffpeakDeps, jobId: string): Promise<Job | undefined> {
  const job = await deps.store.getJob(jobId);
  if (!job || job.state !== JobState.RetryWait) return job;
  const now = deps.clock.now();
  const dueMs = job.retryAt ? Date.parse(job.retryAt) - now.getTime() : 0;
  if (dueMs > 1000) {
    // Longer than one SQS delay: re-arm.
    await deps.dispatchQueue.send(
      { kind: 'retry-release', jobId },
      { delaySeconds: Math.min(900, Math.ceil(dueMs / 1000)) },
    );
    return job;
  }
  const outcome = await updateJobWith(
    deps,
    jobId,
    (current) =>
      current.state === JobState.RetryWait
        ? transitionJob(
            current,
            JobState.Queued,
            now,
            { effectsPending: false, slotReleasePending: false },
            'backoff over',
          )
        : undefined,
    job,
  );
  if (!outcome.changed) return outcome.job;
  crashPoint(deps, CrashPoint.RetryReleaseAfterWrite);
  // Effects of entering RETRY_WAIT that a crash cut short: this write cleared `slotReleasePending`, so it owns the
  // release of the slots (see `releaseOwnedSlots` in effects.ts).
  if (outcome.before.slotReleasePending) await releaseSlotsOf(deps, outcome.before);
  await deps.dispatchQueue.send({ kind: 'nudge', queue: job.queue });
  return outcome.after;
}
