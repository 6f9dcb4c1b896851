import { topologicalOrder } from '../dag.js';
import type { OffpeakDeps } from '../deps.js';
import { ConcurrentUpdateError, ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { scopedIdempotencyKey } from '../idempotency.js';
import { newJobId } from '../ids.js';
import type { Job, Trigger } from '../job.js';
import { isTerminal, JobState } from '../job-state.js';
import { stableStringify } from '../job-type.js';
import {
  assertValidPipelineGraph,
  type CreatePipelineRequest,
  type Pipeline,
  type PipelineState,
  pipelineState,
  type StoredStep,
} from '../pipeline.js';
import { TriggerRule } from '../trigger-rule.js';
import { cancelJob } from './cancel.js';

/** The pipeline, and whether this call created it (false: an earlier request with the same idempotency key did). */
export interface CreatePipelineResult {
  readonly pipeline: Pipeline;
  readonly created: boolean;
}

/** A step as `GET /pipelines/{id}` shows it: the graph node and where its job is. */
export interface PipelineStepView {
  readonly id: string;
  readonly type: string;
  readonly jobId: string;
  readonly dependsOn: readonly string[];
  readonly triggerRule: TriggerRule;
  readonly input?: { readonly fromStep: string };
  /** The job's state (absent only while the pipeline is being created). */
  readonly state?: JobState;
  readonly attempt?: number;
  readonly exitCode?: number;
  readonly statusReason?: string;
  readonly error?: Job['error'];
  readonly inputUri?: string;
  readonly finishedAt?: string;
}

/** A pipeline with its jobs' states. */
export interface PipelineView {
  readonly id: string;
  readonly name?: string;
  readonly state: PipelineState;
  readonly cancelRequested: boolean;
  readonly createdAt: string;
  /** How many steps are in each job state. */
  readonly counts: Partial<Record<JobState, number>>;
  readonly steps: readonly PipelineStepView[];
}

/** Pipeline idempotency keys live beside job types' (`<type>#<key>`) under a scope no job type can have. */
const PIPELINE_KEY_SCOPE = '@pipeline';

/**
 * Creates a pipeline (design §1 "dependencies"): validates the whole graph and every step's job type and params,
 * stores the pipeline (with a job id per step), then its dependency edges, then its jobs, all WAITING but the roots,
 * which are created last (QUEUED), so that nothing runs before every job exists. Dependencies are Offpeak's edges and
 * trigger rules: any number per step.
 *
 * Crash-safe without transactions: the pipeline item holds everything needed to create its jobs; a retry with the
 * same idempotency key, or the reconciler after a minute, finishes a creation cut short.
 *
 * @throws ValidationError `DuplicateStepId`, `UnknownStepReference`, `DependencyCycle`, `InputNotUpstream` (naming
 *   the steps), `InvalidPipelineSteps` (unknown types or invalid params, per step)
 * @throws ConflictError `IdempotencyKeyReused` when the key was used for another pipeline
 */
export async function createPipeline(
  deps: OffpeakDeps,
  request: CreatePipelineRequest,
  trigger: Trigger,
): Promise<CreatePipelineResult> {
  assertValidPipelineGraph(request.steps);
  const problems: Array<{ step: string; code: string; message: string; details?: unknown }> = [];
  for (const step of request.steps) {
    try {
      deps.catalog.validateParams(step.type, step.params);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      problems.push({
        step: step.id,
        code: error.code,
        message: error.message,
        ...(error.details !== undefined ? { details: error.details } : {}),
      });
    }
  }
  if (problems.length > 0) {
    throw new ValidationError(
      'InvalidPipelineSteps',
      `Invalid steps: ${problems.map((p) => `${p.step} (${p.message})`).join('; ')}`,
      { details: { steps: problems } },
    );
  }

  const now = deps.clock.now();
  let id = newJobId(now);
  const idempotencyKey = request.idempotencyKey
    ? scopedIdempotencyKey(PIPELINE_KEY_SCOPE, request.idempotencyKey)
    : undefined;
  if (idempotencyKey) {
    const expiresAt = new Date(now.getTime() + deps.settings.idempotencyRetentionHours * 3_600_000);
    const claim = await deps.store.claimIdempotencyKey(idempotencyKey, id, expiresAt);
    if (!claim.claimed) {
      const existing = await deps.scheduling.getPipeline(claim.jobId);
      if (existing)
        return { pipeline: await finish(deps, sameRequestOrConflict(existing, request)), created: false };
      id = claim.jobId;
    }
  }

  const iso = now.toISOString();
  const pipeline: Pipeline = {
    id,
    ...(request.name !== undefined ? { name: request.name } : {}),
    ...(idempotencyKey ? { idempotencyKey } : {}),
    trigger,
    steps: request.steps.map((step) => ({ ...step, jobId: newJobId(now) })),
    created: false,
    createdAt: iso,
    updatedAt: iso,
    version: 0,
  };
  if (!(await deps.scheduling.createPipeline(pipeline))) {
    const existing = await deps.scheduling.getPipeline(id);
    if (!existing) throw new Error(`Pipeline ${id} exists but cannot be read`);
    return { pipeline: await finish(deps, sameRequestOrConflict(existing, request)), created: false };
  }
  deps.log.info('Pipeline submitted', {
    pipelineId: id,
    steps: pipeline.steps.length,
    trigger: trigger.kind,
  });
  return { pipeline: await completePipelineCreation(deps, pipeline), created: true };
}

async function finish(deps: OffpeakDeps, pipeline: Pipeline): Promise<Pipeline> {
  return pipeline.created ? pipeline : completePipelineCreation(deps, pipeline);
}

/**
 * Creates whatever of a stored pipeline does not exist yet (edges, then jobs, roots last), marks it created and wakes
 * the dispatcher. Idempotent: the reconciler and retried requests call it for pipelines a crash left unfinished.
 */
export async function completePipelineCreation(deps: OffpeakDeps, pipeline: Pipeline): Promise<Pipeline> {
  const byStep = new Map(pipeline.steps.map((s) => [s.id, s]));
  const jobIdOf = (stepId: string) => (byStep.get(stepId) as StoredStep).jobId;
  for (const step of pipeline.steps) {
    for (const upstream of step.dependsOn) await deps.store.addDependent(jobIdOf(upstream), step.jobId);
  }
  const order = topologicalOrder(
    pipeline.steps.map((s) => s.id),
    (id) => byStep.get(id)?.dependsOn ?? [],
  ).reverse();
  for (const stepId of order) {
    await deps.store.createJob(stepJob(deps, pipeline, byStep.get(stepId) as StoredStep, jobIdOf));
  }

  let current: Pipeline | undefined = pipeline;
  for (let tries = 0; current && !current.created; tries++) {
    try {
      current = await deps.scheduling.updatePipeline(
        { ...current, created: true, updatedAt: deps.clock.now().toISOString() },
        current.version,
      );
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError) || tries >= 5) throw error;
      current = await deps.scheduling.getPipeline(pipeline.id);
    }
  }
  const queues = new Set(
    pipeline.steps.filter((s) => s.dependsOn.length === 0).map((s) => deps.catalog.jobType(s.type).queue),
  );
  for (const queue of queues) {
    try {
      await deps.dispatchQueue.send({ kind: 'nudge', queue });
    } catch (error) {
      // The jobs are stored; the dispatcher's schedule picks them up within a minute.
      deps.log.warn('Dispatcher nudge failed', { pipelineId: pipeline.id, error: String(error) });
    }
  }
  return current ?? pipeline;
}

/** The job of one step: WAITING for its upstream steps' jobs, or QUEUED for a root. */
function stepJob(
  deps: OffpeakDeps,
  pipeline: Pipeline,
  step: StoredStep,
  jobIdOf: (stepId: string) => string,
): Job {
  const type = deps.catalog.jobType(step.type);
  const iso = deps.clock.now().toISOString();
  const state = step.dependsOn.length === 0 ? JobState.Queued : JobState.Waiting;
  return {
    id: step.jobId,
    type: type.name,
    queue: type.queue,
    priority: step.priority ?? type.priority,
    params: step.params,
    trigger: pipeline.trigger,
    dependsOn: [...new Set(step.dependsOn)].map(jobIdOf),
    ...(step.triggerRule !== TriggerRule.AllSuccess ? { triggerRule: step.triggerRule } : {}),
    pipelineId: pipeline.id,
    stepId: step.id,
    ...(step.input ? { inputFrom: jobIdOf(step.input.fromStep) } : {}),
    state,
    attempt: 0,
    maxAttempts: type.retry.attempts,
    attempts: [],
    history: [{ state, at: iso, reason: `pipeline ${pipeline.id}, step ${step.id}` }],
    holdsSlot: false,
    createdAt: iso,
    updatedAt: iso,
    stateChangedAt: iso,
    version: 0,
  };
}

/** A pipeline and its jobs' states. @throws NotFoundError `PipelineNotFound` */
export async function getPipelineView(deps: OffpeakDeps, id: string): Promise<PipelineView> {
  const pipeline = await deps.scheduling.getPipeline(id);
  if (!pipeline) throw new NotFoundError('PipelineNotFound', `No pipeline with id ${id}`);
  return viewOf(pipeline, await deps.store.getJobs(pipeline.steps.map((s) => s.jobId)));
}

/**
 * Cancels every job of a pipeline that has not finished, downstream steps first, so that no cancelled upstream step
 * releases a continue-on-error dependent that would then start.
 *
 * @throws NotFoundError `PipelineNotFound`
 * @throws ConflictError `PipelineFinished` when every job already ended
 */
export async function cancelPipeline(
  deps: OffpeakDeps,
  id: string,
  reason = 'Pipeline cancelled by user',
): Promise<PipelineView> {
  let pipeline = await deps.scheduling.getPipeline(id);
  if (!pipeline) throw new NotFoundError('PipelineNotFound', `No pipeline with id ${id}`);
  const jobs = await deps.store.getJobs(pipeline.steps.map((s) => s.jobId));
  if (pipeline.created && jobs.every((j) => isTerminal(j.state))) {
    throw new ConflictError('PipelineFinished', `Pipeline ${id} already ended; nothing to cancel`, {
      details: { state: pipelineState(pipeline, new Map(jobs.map((j) => [j.id, j]))) },
    });
  }
  for (let tries = 0; pipeline && !pipeline.cancelRequested; tries++) {
    try {
      pipeline = await deps.scheduling.updatePipeline(
        { ...pipeline, cancelRequested: true, updatedAt: deps.clock.now().toISOString() },
        pipeline.version,
      );
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError) || tries >= 5) throw error;
      pipeline = await deps.scheduling.getPipeline(id);
    }
  }
  if (!pipeline) throw new NotFoundError('PipelineNotFound', `No pipeline with id ${id}`);
  // Every job must exist before cancelling, or a root created afterwards would still run.
  if (!pipeline.created) pipeline = await completePipelineCreation(deps, pipeline);
  const byStep = new Map(pipeline.steps.map((s) => [s.id, s]));
  const order = topologicalOrder(
    pipeline.steps.map((s) => s.id),
    (stepId) => byStep.get(stepId)?.dependsOn ?? [],
  ).reverse();
  for (const stepId of order) {
    const jobId = (byStep.get(stepId) as StoredStep).jobId;
    try {
      await cancelJob(deps, jobId, reason);
    } catch (error) {
      // Ended on its own meanwhile: nothing to cancel.
      if (!(error instanceof ConflictError && error.code === 'JobFinished')) throw error;
    }
  }
  deps.log.info('Pipeline cancelled', { pipelineId: id });
  return viewOf(pipeline, await deps.store.getJobs(pipeline.steps.map((s) => s.jobId)));
}

/** The view of a pipeline from its item and its jobs (pure). */
export function viewOf(pipeline: Pipeline, jobs: readonly Job[]): PipelineView {
  const byId = new Map(jobs.map((j) => [j.id, j]));
  const counts: Partial<Record<JobState, number>> = {};
  for (const job of jobs) counts[job.state] = (counts[job.state] ?? 0) + 1;
  return {
    id: pipeline.id,
    ...(pipeline.name !== undefined ? { name: pipeline.name } : {}),
    state: pipelineState(pipeline, byId),
    cancelRequested: pipeline.cancelRequested === true,
    createdAt: pipeline.createdAt,
    counts,
    steps: pipeline.steps.map((step) => {
      const job = byId.get(step.jobId);
      return {
        id: step.id,
        type: step.type,
        jobId: step.jobId,
        dependsOn: step.dependsOn,
        triggerRule: step.triggerRule,
        ...(step.input ? { input: step.input } : {}),
        ...(job
          ? {
              state: job.state,
              attempt: job.attempt,
              ...(job.exitCode !== undefined ? { exitCode: job.exitCode } : {}),
              ...(job.statusReason !== undefined ? { statusReason: job.statusReason } : {}),
              ...(job.error !== undefined ? { error: job.error } : {}),
              ...(job.input !== undefined ? { inputUri: job.input.uri } : {}),
              ...(job.finishedAt !== undefined ? { finishedAt: job.finishedAt } : {}),
            }
          : {}),
      };
    }),
  };
}

/** A repeated key must mean a repeated request. */
function sameRequestOrConflict(existing: Pipeline, request: CreatePipelineRequest): Pipeline {
  const steps = existing.steps.map(({ jobId: _jobId, ...step }) => step);
  if (
    stableStringify(steps) !== stableStringify(request.steps) ||
    (existing.name ?? null) !== (request.name ?? null)
  ) {
    throw new ConflictError(
      'IdempotencyKeyReused',
      `Idempotency key "${request.idempotencyKey}" was already used for pipeline ${existing.id} with other steps`,
      { details: { pipelineId: existing.id } },
    );
  }
  return existing;
}
