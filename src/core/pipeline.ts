import { z } from 'zod';
import { findCycle, unknownReferences } from './dag.js';
import { ValidationError } from './errors.js';
import { IDEMPOTENCY_KEY_MAX } from './idempotency.js';
import type { Job } from './job.js';
import { TriggerSchema } from './job.js';
import { isTerminal, JobState } from './job-state.js';
import { TriggerRuleSchema } from './trigger-rule.js';

/** At most this many steps in one pipeline (each is a job; the request body limit bounds it too). */
export const MAX_PIPELINE_STEPS = 500;

export const StepIdSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/,
    'letters, digits, "-" and "_", at most 64, starting alphanumeric',
  );

/** One step of a pipeline: a job of `type`, run when its `dependsOn` steps allow it (per its trigger rule). */
export const PipelineStepSchema = z
  .object({
    id: StepIdSchema,
    type: z.string().min(1).max(64),
    params: z.record(z.string(), z.unknown()).default({}),
    /** Ids of steps of the same pipeline this one waits for. */
    dependsOn: z.array(StepIdSchema).max(MAX_PIPELINE_STEPS).default([]),
    /** @default 'all_success' */
    triggerRule: TriggerRuleSchema.default('all_success'),
    /** Take the output location of an upstream step (one of `dependsOn`) as input (`OFFPEAK_INPUT_URI`). */
    input: z.object({ fromStep: StepIdSchema }).strict().optional(),
    /** @default the job type's priority */
    priority: z.number().int().min(0).max(1000).optional(),
  })
  .strict();
export type PipelineStep = z.infer<typeof PipelineStepSchema>;

/** Body of `POST /pipelines`. */
export const CreatePipelineRequestSchema = z
  .object({
    name: z.string().min(1).max(200).optional(),
    steps: z.array(PipelineStepSchema).min(1).max(MAX_PIPELINE_STEPS),
    /** A repeated key returns the pipeline created with it (and finishes creating it after a crash). */
    idempotencyKey: z.string().min(1).max(IDEMPOTENCY_KEY_MAX).optional(),
  })
  .strict();
export type CreatePipelineRequest = z.infer<typeof CreatePipelineRequestSchema>;

/** A pipeline step as stored: the request's step and the id of its job. */
export const StoredStepSchema = PipelineStepSchema.extend({ jobId: z.string() });
export type StoredStep = z.infer<typeof StoredStepSchema>;

/**
 * A pipeline as stored: written once, before its jobs, with everything needed to create them, so creation cut short
 * by a crash can be finished (by a retry with the same idempotency key, or by the reconciler).
 */
export const PipelineSchema = z.object({
  id: z.string(),
  name: z.string().optional(),
  idempotencyKey: z.string().optional(),
  trigger: TriggerSchema,
  steps: z.array(StoredStepSchema),
  /** False until every job exists (the roots are created last, so nothing runs before). */
  created: z.boolean(),
  cancelRequested: z.boolean().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  version: z.number().int().min(0),
});
export type Pipeline = z.infer<typeof PipelineSchema>;

/** One problem with a pipeline's graph, naming the steps concerned. */
export interface PipelineIssue {
  readonly code: 'DuplicateStepId' | 'UnknownStepReference' | 'DependencyCycle' | 'InputNotUpstream';
  readonly message: string;
  readonly steps: readonly string[];
}

/** Every problem with a pipeline's graph: duplicate ids, references to unknown steps, cycles, inputs. Pure. */
export function pipelineGraphIssues(steps: readonly PipelineStep[]): PipelineIssue[] {
  const issues: PipelineIssue[] = [];
  const counts = new Map<string, number>();
  for (const step of steps) counts.set(step.id, (counts.get(step.id) ?? 0) + 1);
  const duplicates = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
  if (duplicates.length > 0) {
    issues.push({
      code: 'DuplicateStepId',
      message: `duplicate step ids: ${duplicates.join(', ')}`,
      steps: duplicates,
    });
  }
  const ids = [...counts.keys()];
  const byId = new Map(steps.map((s) => [s.id, s]));
  const upstreamOf = (id: string) => byId.get(id)?.dependsOn ?? [];
  const unknown = unknownReferences(ids, upstreamOf);
  for (const step of steps) {
    if (step.input && !counts.has(step.input.fromStep)) unknown.push([step.id, step.input.fromStep]);
  }
  if (unknown.length > 0) {
    issues.push({
      code: 'UnknownStepReference',
      message: `steps refer to steps that do not exist: ${unknown.map(([from, to]) => `${from} → ${to}`).join(', ')}`,
      steps: [...new Set(unknown.map(([, to]) => to))],
    });
  }
  const selfDependent = steps.filter((s) => s.dependsOn.includes(s.id)).map((s) => s.id);
  const cycle =
    selfDependent.length > 0
      ? [selfDependent[0] as string, selfDependent[0] as string]
      : findCycle(ids, upstreamOf);
  if (cycle) {
    issues.push({
      code: 'DependencyCycle',
      message: `dependencies form a cycle (each step depends on the next): ${cycle.join(' → ')}`,
      steps: [...new Set(cycle)],
    });
  }
  const notUpstream = steps.filter(
    (s) => s.input && counts.has(s.input.fromStep) && !s.dependsOn.includes(s.input.fromStep),
  );
  if (notUpstream.length > 0) {
    issues.push({
      code: 'InputNotUpstream',
      message: `a step's input must come from one of its dependsOn steps: ${notUpstream
        .map((s) => `${s.id} (input from ${s.input?.fromStep})`)
        .join(', ')}`,
      steps: notUpstream.map((s) => s.id),
    });
  }
  return issues;
}

/** @throws ValidationError named after the first issue, listing them all in `details.issues`. */
export function assertValidPipelineGraph(steps: readonly PipelineStep[]): void {
  const issues = pipelineGraphIssues(steps);
  const first = issues[0];
  if (first) {
    throw new ValidationError(first.code, issues.map((i) => i.message).join('; '), { details: { issues } });
  }
}

/** What a pipeline is doing, derived from its jobs. */
export const PipelineState = {
  Creating: 'CREATING',
  Running: 'RUNNING',
  Succeeded: 'SUCCEEDED',
  Failed: 'FAILED',
  Cancelled: 'CANCELLED',
} as const;
export type PipelineState = (typeof PipelineState)[keyof typeof PipelineState];

/**
 * A pipeline's state from its jobs' (pure): CREATING until every job exists, RUNNING while one has not ended,
 * then SUCCEEDED when every leaf step (one no other step depends on) SUCCEEDED, CANCELLED when it was cancelled,
 * FAILED otherwise. Leaves decide, as in Airflow: a failed step whose continue-on-error dependents succeeded does not
 * fail the pipeline.
 */
export function pipelineState(
  pipeline: Pick<Pipeline, 'created' | 'cancelRequested' | 'steps'>,
  jobs: ReadonlyMap<string, Pick<Job, 'state'>>,
): PipelineState {
  if (!pipeline.created) return PipelineState.Creating;
  const states = pipeline.steps.map((s) => jobs.get(s.jobId)?.state);
  if (states.some((state) => state !== undefined && !isTerminal(state))) return PipelineState.Running;
  const upstream = new Set(pipeline.steps.flatMap((s) => s.dependsOn));
  const leaves = pipeline.steps.filter((s) => !upstream.has(s.id));
  if (leaves.every((s) => jobs.get(s.jobId)?.state === JobState.Succeeded)) return PipelineState.Succeeded;
  if (pipeline.cancelRequested) return PipelineState.Cancelled;
  return PipelineState.Failed;
}
