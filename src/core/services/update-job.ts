import type { OffpeakDeps } from '../deps.js';
import { ConcurrentUpdateError, NotFoundError } from '../errors.js';
import type { Job } from '../job.js';

/** Result of {@link updateJobWith}: the job before and after, or `changed: false` when `decide` chose no write. */
export type UpdateOutcome =
  | { readonly changed: true; readonly before: Job; readonly after: Job }
  | { readonly changed: false; readonly job: Job };

const MAX_TRIES = 8;

/**
 * Read-decide-write with optimistic concurrency: `decide` gets the current job and returns its next version (made
 * with `transitionJob`/`patchJob`) or undefined for "nothing to do". On a lost race it re-reads and decides again,
 * so concurrent writers (several dispatchers, duplicated events) always decide on fresh data.
 *
 * @throws NotFoundError when the job does not exist.
 */
export async function updateJobWith(
  deps: Pick<OffpeakDeps, 'store'>,
  jobId: string,
  decide: (job: Job) => Job | undefined,
  initial?: Job,
): Promise<UpdateOutcome> {
  let current = initial ?? (await deps.store.getJob(jobId));
  for (let tries = 1; ; tries++) {
    if (!current) throw new NotFoundError('JobNotFound', `No job with id ${jobId}`);
    const next = decide(current);
    if (!next) return { changed: false, job: current };
    try {
      const after = await deps.store.updateJob(next, current.version);
      return { changed: true, before: current, after };
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError) || tries >= MAX_TRIES) throw error;
      current = await deps.store.getJob(jobId);
    }
  }
}
