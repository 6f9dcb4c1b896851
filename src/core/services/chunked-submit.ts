import type { CatalogJobType } from '../catalog.js';
import { resultManifestKey } from '../chunk-plan.js';
import type { OffpeakDeps } from '../deps.js';
import { ValidationError } from '../errors.js';
import { type Job, type JobInput, patchJob, type Trigger } from '../job.js';
import type { SubmitRequest } from '../requests.js';
import { jobInputOf, keyInBucket, requireObjects } from './plan-execution.js';
import { updateJobWith } from './update-job.js';

/** What only Offpeak itself sets when it submits a job: the input of a reduce step or a follow-up job. */
export interface SubmitInternals {
  readonly input?: JobInput;
}

type Submit = (
  deps: OffpeakDeps,
  request: SubmitRequest,
  trigger: Trigger,
  internals?: SubmitInternals,
) => Promise<{ readonly job: Job }>;

/**
 * The chunking fields a submit request adds to its job (issue 5), checked against the job type: a chunked type
 * needs an input in the Offpeak bucket, other types may name any S3 input; a request-level chunk size needs a chunked type.
 * When the job can run now, an object input is checked to exist (one HeadObject), so a typo is a 400 rather than
 * a failed job.
 *
 * @throws ValidationError `InputRequired`, `InputNotAllowed`, `InputOutsideBucket`, `InputNotFound`, `DryRunNotHere`
 */
export async function chunkedSubmitFields(
  deps: OffpeakDeps,
  type: CatalogJobType,
  request: SubmitRequest,
  options: { readonly checkReachable: boolean },
): Promise<Pick<Job, 'input' | 'chunkSizing'>> {
  if (request.dryRun) {
    throw new ValidationError(
      'DryRunNotHere',
      'dryRun is answered by POST /jobs only; nothing was submitted',
    );
  }
  const input = jobInputOf(request.input);
  if (!type.chunking) {
    // A plain job gets its input as OFFPEAK_INPUT_URI (an S3 upload trigger's object, say) and reads it itself.
    if (request.chunking) {
      throw new ValidationError(
        'InputNotAllowed',
        `Job type "${type.name}" is not chunked: it takes no chunking (declare chunking on the job type)`,
      );
    }
    return input ? { input } : {};
  }
  if (!input) {
    throw new ValidationError(
      'InputRequired',
      `Job type "${type.name}" is chunked: give an input (s3://… or {prefix})`,
    );
  }
  const objects = requireObjects(deps);
  const key = keyInBucket(objects, input.uri);
  if (options.checkReachable && input.kind === 'object' && !(await objects.head(key))) {
    throw new ValidationError('InputNotFound', `Input object ${input.uri} does not exist`);
  }
  return { input, ...(request.chunking ? { chunkSizing: request.chunking } : {}) };
}

/**
 * Submits the reduce step of a chunked job (job type `reduce`): a plain job that waits for the chunked job
 * (Offpeak's own dependency, so it is released only when every chunk is done and the job succeeded, and skipped
 * otherwise) and gets the result manifest as its input (`OFFPEAK_INPUT_URI`). Idempotent per chunked job.
 */
export async function submitReduceStep(deps: OffpeakDeps, job: Job, submit: Submit): Promise<Job> {
  const type = deps.catalog.jobType(job.type);
  if (!type.reduce || job.reduceJobId) return job;
  const input: JobInput = { kind: 'manifest', uri: requireObjects(deps).uri(resultManifestKey(job.id)) };
  const { job: reduce } = await submit(
    deps,
    { type: type.reduce.jobType, params: {}, idempotencyKey: `reduce:${job.id}`, dependsOn: [job.id] },
    { kind: 'event', source: `reduce step of ${job.id}` },
    { input },
  );
  deps.log.info('Reduce step submitted', { jobId: job.id, reduceJobId: reduce.id });
  const outcome = await updateJobWith(deps, job.id, (current) =>
    current.reduceJobId ? undefined : patchJob(current, deps.clock.now(), { reduceJobId: reduce.id }),
  );
  return outcome.changed ? outcome.after : outcome.job;
}
