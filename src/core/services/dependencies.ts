import type { OffpeakDeps } from '../deps.js';
import type { Job } from '../job.js';
import { transitionJob } from '../job.js';
import { isTerminal, JobState } from '../job-state.js';
import { outputLocation } from '../output-location.js';
import { TriggerRule } from '../trigger-rule.js';
import { completionPatch, runCompletionEffects } from './effects.js';
import { updateJobWith } from './update-job.js';

/** What a waiting job should do given its dependencies' states and its trigger rule. */
export type DependencyVerdict = 'wait' | 'release' | 'skip';

/** How many dependencies are in each kind of state (a missing one counts as FAILED: its outcome is unknown). */
interface Tally {
  readonly succeeded: number;
  readonly failed: number;
  readonly cancelled: number;
  readonly skipped: number;
  readonly pending: number;
}

function tally(dependencies: readonly Pick<Job, 'state'>[], expected: number): Tally {
  const count = (state: JobState) => dependencies.filter((d) => d.state === state).length;
  return {
    succeeded: count(JobState.Succeeded),
    failed: count(JobState.Failed) + Math.max(0, expected - dependencies.length),
    cancelled: count(JobState.Cancelled),
    skipped: count(JobState.Skipped),
    pending: dependencies.filter((d) => !isTerminal(d.state)).length,
  };
}

/** The trigger rules as one table: each decides from the tally alone. */
const rules: Readonly<Record<TriggerRule, (t: Tally) => DependencyVerdict>> = {
  // Fail fast: any dependency that did not succeed skips the job at once.
  [TriggerRule.AllSuccess]: (t) =>
    t.failed + t.cancelled + t.skipped > 0 ? 'skip' : t.pending > 0 ? 'wait' : 'release',
  // Continue on error: runs once everything ended, whatever the outcomes.
  [TriggerRule.AllDone]: (t) => (t.pending > 0 ? 'wait' : 'release'),
  [TriggerRule.OneSuccess]: (t) => (t.succeeded > 0 ? 'release' : t.pending > 0 ? 'wait' : 'skip'),
  // Skipped dependencies are fine; failed or cancelled ones are not.
  [TriggerRule.NoneFailed]: (t) => (t.failed + t.cancelled > 0 ? 'skip' : t.pending > 0 ? 'wait' : 'release'),
};

/**
 * What a job waiting for `expected` dependencies should do, per its trigger rule (pure). `dependencies` are the ones
 * that still exist; a missing one (expired, deleted) counts as FAILED.
 *
 * @example dependencyVerdict([{ state: 'FAILED' }, { state: 'RUNNING' }], 2, 'all_done') // 'wait'
 */
export function dependencyVerdict(
  dependencies: readonly Pick<Job, 'state'>[],
  expected: number,
  rule: TriggerRule = TriggerRule.AllSuccess,
): DependencyVerdict {
  return rules[rule](tally(dependencies, expected));
}

/** Why a job was skipped, naming the dependencies that decided it. */
export function skipReason(
  rule: TriggerRule,
  dependencies: readonly Pick<Job, 'id' | 'state'>[],
  expectedIds: readonly string[],
): string {
  const missing = expectedIds.filter((id) => !dependencies.some((d) => d.id === id));
  const ended = (states: readonly JobState[]) =>
    dependencies.filter((d) => states.includes(d.state)).map((d) => `${d.id} ${d.state}`);
  const culprits =
    rule === TriggerRule.NoneFailed
      ? ended([JobState.Failed, JobState.Cancelled])
      : ended([JobState.Failed, JobState.Cancelled, JobState.Skipped]);
  const parts = [...culprits, ...missing.map((id) => `${id} missing`)];
  const what = rule === TriggerRule.OneSuccess ? 'no dependency succeeded' : 'a dependency did not succeed';
  return `${what} (${rule}): ${parts.join(', ')}`;
}

/** Re-evaluates one WAITING job against its dependencies and releases or skips it. */
export async function evaluateWaitingJob(deps: OffpeakDeps, jobId: string): Promise<Job | undefined> {
  const job = await deps.store.getJob(jobId);
  if (!job || job.state !== JobState.Waiting) return job;
  const dependencies = await deps.store.getJobs(job.dependsOn);
  const rule = job.triggerRule ?? TriggerRule.AllSuccess;
  const expected = [...new Set(job.dependsOn)];
  if (dependencies.length < expected.length && job.pipelineId) {
    // A step of a pipeline still being created waits for the rest of its jobs, rather than taking them as failed.
    const pipeline = await deps.scheduling.getPipeline(job.pipelineId);
    if (pipeline && !pipeline.created) return job;
  }
  const verdict = dependencyVerdict(dependencies, expected.length, rule);
  if (verdict === 'wait') return job;
  const outcome = await updateJobWith(
    deps,
    jobId,
    (current) => {
      if (current.state !== JobState.Waiting) return undefined;
      const now = deps.clock.now();
      if (verdict === 'release') {
        const upstream = current.inputFrom ? dependencies.find((d) => d.id === current.inputFrom) : undefined;
        return transitionJob(
          current,
          JobState.Queued,
          now,
          upstream ? { input: { kind: 'prefix', uri: outputLocation(upstream, deps.settings) } } : {},
          `dependencies done (${rule})`,
        );
      }
      return transitionJob(
        current,
        JobState.Skipped,
        now,
        { ...completionPatch(current), statusReason: skipReason(rule, dependencies, expected) },
        'dependency did not succeed',
      );
    },
    job,
  );
  if (!outcome.changed) return outcome.job;
  deps.log.info(`Waiting job ${verdict === 'release' ? 'released' : 'skipped'}`, {
    jobId,
    state: outcome.after.state,
    triggerRule: rule,
  });
  if (outcome.after.state === JobState.Queued) {
    await deps.dispatchQueue.send({ kind: 'nudge', queue: outcome.after.queue });
    return outcome.after;
  }
  return runCompletionEffects(deps, outcome.after);
}

/** After `job` finished: release or skip every job waiting for it. */
export async function resolveDependents(deps: OffpeakDeps, job: Job): Promise<void> {
  const dependents = await deps.store.dependentsOf(job.id);
  for (const dependentId of dependents) await evaluateWaitingJob(deps, dependentId);
}
