import type { OffpeakDeps } from '../deps.js';
import type { Job } from '../job.js';
import { transitionJob } from '../job.js';
import { JobState } from '../job-state.js';
import { completionPatch, runCompletionEffects } from './effects.js';
import { updateJobWith } from './update-job.js';

/** What a waiting job should do given its dependencies' states (trigger rule `all_success`). */
export type DependencyVerdict = 'wait' | 'release' | 'skip';

/** `all_success`: released when every dependency SUCCEEDED; skipped as soon as one ends any other way. */
export function dependencyVerdict(
  dependencies: readonly Pick<Job, 'state'>[],
  expected: number,
): DependencyVerdict {
  if (dependencies.length < expected) return 'skip';
  if (
    dependencies.some(
      (d) => d.state === JobState.Failed || d.state === JobState.Cancelled || d.state === JobState.Skipped,
    )
  ) {
    return 'skip';
  }
  return dependencies.every((d) => d.state === JobState.Succeeded) ? 'release' : 'wait';
}

/** Re-evaluates one WAITING job against its dependencies and releases or skips it. */
export async function evaluateWaitingJob(deps: OffpeakDeps, jobId: string): Promise<Job | undefined> {
  const job = await deps.store.getJob(jobId);
  if (!job || job.state !== JobState.Waiting) return job;
  const dependencies = await deps.store.getJobs(job.dependsOn);
  const verdict = dependencyVerdict(dependencies, new Set(job.dependsOn).size);
  if (verdict === 'wait') return job;
  const outcome = await updateJobWith(
    deps,
    jobId,
    (current) => {
      if (current.state !== JobState.Waiting) return undefined;
      const now = deps.clock.now();
      if (verdict === 'release')
        return transitionJob(current, JobState.Queued, now, {}, 'dependencies succeeded');
      const failed = dependencies.filter((d) => d.state !== JobState.Succeeded).map((d) => d.id);
      return transitionJob(
        current,
        JobState.Skipped,
        now,
        { ...completionPatch(current), statusReason: `dependency did not succeed: ${failed.join(', ')}` },
        'dependency did not succeed',
      );
    },
    job,
  );
  if (!outcome.changed) return outcome.job;
  deps.log.info(`Waiting job ${verdict === 'release' ? 'released' : 'skipped'}`, {
    jobId,
    state: outcome.after.state,
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
