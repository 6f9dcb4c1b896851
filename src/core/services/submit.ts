import { CrashPoint, crashPoint } from '../crash-point.js';
import type { OffpeakDeps } from '../deps.js';
import { ConflictError, ValidationError } from '../errors.js';
import { effectiveIdempotencyKey, idempotencyRetentionHours, scopedIdempotencyKey } from '../idempotency.js';
import { newJobId } from '../ids.js';
import type { Job, Trigger } from '../job.js';
import { JobState } from '../job-state.js';
import { stableStringify } from '../job-type.js';
import type { SubmitRequest } from '../requests.js';
import { TriggerRule } from '../trigger-rule.js';
import { chunkedSubmitFields, type SubmitInternals, submitReduceStep } from './chunked-submit.js';
import { dependencyVerdict, skipReason } from './dependencies.js';
import { runCompletionEffects } from './effects.js';

/** The job, and whether this call created it (false: an earlier submit with the same idempotency key did). */
export interface SubmitResult {
  readonly job: Job;
  readonly created: boolean;
}

/**
 * The one entry point every trigger uses (design §1): validate against the job type, apply the idempotency key,
 * store the job (QUEUED, or WAITING on unmet dependencies) and nudge the dispatcher.
 *
 * Crash safety without transactions: the idempotency key is claimed first with the new job id; if a crash leaves a
 * key without its job, the next submit with that key adopts the id and creates the job.
 *
 * @throws ValidationError unknown type, invalid params, unknown dependencies
 * @throws ConflictError the idempotency key was used with different params
 */
export async function submitJob(
  deps: OffpeakDeps,
  request: SubmitRequest,
  trigger: Trigger,
  internals: SubmitInternals = {},
): Promise<SubmitResult> {
  const type = deps.catalog.jobType(request.type);
  deps.catalog.validateParams(type.name, request.params);
  const dependsOn = [...new Set(request.dependsOn)];
  // The input, and chunk sizing of chunked job types (Offpeak sets the input of reduce steps and follow-ups).
  const chunked = internals.input
    ? { input: internals.input }
    : await chunkedSubmitFields(deps, type, request, { checkReachable: dependsOn.length === 0 });
  if (dependsOn.length > 0) {
    const found = await deps.store.getJobs(dependsOn);
    const missing = dependsOn.filter((id) => !found.some((j) => j.id === id));
    if (missing.length > 0) {
      throw new ValidationError('UnknownDependencies', `Unknown dependencies: ${missing.join(', ')}`, {
        details: { missing },
      });
    }
  }

  const now = deps.clock.now();
  let id = newJobId(now);
  // An explicit key, or the payload hash for types that ask for it (issue 6: idempotency end to end).
  const clientKey = effectiveIdempotencyKey(type, request);
  const idempotencyKey = clientKey ? scopedIdempotencyKey(type.name, clientKey) : undefined;
  if (idempotencyKey) {
    const retentionMs = idempotencyRetentionHours(type, deps.settings) * 3_600_000;
    const expiresAt = new Date(now.getTime() + retentionMs);
    const claim = await deps.store.claimIdempotencyKey(idempotencyKey, id, expiresAt);
    crashPoint(deps, CrashPoint.SubmitAfterKeyClaim);
    if (!claim.claimed) {
      const existing = await deps.store.getJob(claim.jobId);
      if (existing) return { job: sameRequestOrConflict(existing, request, clientKey), created: false };
      // The key's owner never got written (a crash between the two writes, or a concurrent submit that is about
      // to write it): adopt its id, so whichever write lands first wins and both callers see one job.
      id = claim.jobId;
    }
  }

  // Edges first, states second: a dependency that finishes after our read finds the edge and re-evaluates us.
  for (const dependencyId of dependsOn) await deps.store.addDependent(dependencyId, id);
  const dependencies = dependsOn.length > 0 ? await deps.store.getJobs(dependsOn) : [];
  const rule = request.triggerRule ?? TriggerRule.AllSuccess;
  const verdict = dependsOn.length > 0 ? dependencyVerdict(dependencies, dependsOn.length, rule) : 'release';

  const iso = now.toISOString();
  const state =
    verdict === 'release' ? JobState.Queued : verdict === 'wait' ? JobState.Waiting : JobState.Skipped;
  const job: Job = {
    id,
    type: type.name,
    queue: type.queue,
    priority: request.priority ?? type.priority,
    params: request.params,
    ...(idempotencyKey ? { idempotencyKey } : {}),
    trigger,
    dependsOn,
    ...(rule !== TriggerRule.AllSuccess ? { triggerRule: rule } : {}),
    state,
    attempt: 0,
    maxAttempts: type.retry.attempts,
    attempts: [],
    history: [{ state, at: iso }],
    holdsSlot: false,
    ...chunked,
    ...(state === JobState.Skipped
      ? { statusReason: skipReason(rule, dependencies, dependsOn), finishedAt: iso, effectsPending: true }
      : {}),
    createdAt: iso,
    updatedAt: iso,
    stateChangedAt: iso,
    version: 0,
  };
  const created = await deps.store.createJob(job);
  if (!created) {
    const existing = await deps.store.getJob(id);
    if (!existing) throw new Error(`Job ${id} exists but cannot be read`);
    return { job: sameRequestOrConflict(existing, request, clientKey), created: false };
  }
  crashPoint(deps, CrashPoint.SubmitAfterCreate);
  deps.log.info('Job submitted', { jobId: id, type: type.name, state, trigger: trigger.kind });
  if (state === JobState.Skipped) return { job: await runCompletionEffects(deps, job), created: true };
  const submitted = await submitReduceStep(deps, job, submitJob);
  if (state === JobState.Queued) {
    try {
      await deps.dispatchQueue.send({ kind: 'nudge', queue: job.queue });
    } catch (error) {
      // The job is stored; the dispatcher's schedule picks it up within a minute.
      deps.log.warn('Dispatcher nudge failed', { jobId: id, error: String(error) });
    }
  }
  return { job: submitted, created: true };
}

/** A repeated key must mean a repeated request: the same key with other params is a client bug, not a retry. */
function sameRequestOrConflict(existing: Job, request: SubmitRequest, key: string | undefined): Job {
  if (
    existing.type !== request.type ||
    stableStringify(existing.params) !== stableStringify(request.params)
  ) {
    throw new ConflictError(
      'IdempotencyKeyReused',
      `Idempotency key "${key}" was already used for job ${existing.id} with different parameters`,
      { details: { jobId: existing.id } },
    );
  }
  return existing;
}
