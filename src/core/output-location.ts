import type { Settings } from './deps.js';
import type { Job } from './job.js';

/**
 * Where a job's output goes: the location it recorded (`outputUri`), or `<outputBaseUri><jobId>/` (design §3:
 * `<output>/<jobId>/part-<chunk>`). A pipeline step's `input` and a follow-up job's input are this location of the
 * upstream job; the container gets its own as `OFFPEAK_OUTPUT_URI`.
 *
 * @example outputLocation({ id: '01J…' }, { outputBaseUri: 's3://bucket/outputs/' }) // 's3://bucket/outputs/01J…/'
 */
export function outputLocation(
  job: Pick<Job, 'id' | 'outputUri'>,
  settings: Pick<Settings, 'outputBaseUri'>,
): string {
  return job.outputUri ?? `${settings.outputBaseUri}${job.id}/`;
}

/** The input and output locations a job's container gets, on top of its params (see `jobEnvironment`). */
export function ioEnvironment(
  job: Pick<Job, 'id' | 'outputUri' | 'input'>,
  settings: Pick<Settings, 'outputBaseUri'>,
): Record<string, string> {
  return {
    OFFPEAK_OUTPUT_URI: outputLocation(job, settings),
    ...(job.input ? { OFFPEAK_INPUT_URI: job.input.uri } : {}),
  };
}
