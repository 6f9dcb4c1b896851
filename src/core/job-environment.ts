import type { Job } from './job.js';

/**
 * The environment a job's container gets from Offpeak: the params as JSON in `OFFPEAK_PARAMS`, each top-level
 * scalar param as `OFFPEAK_PARAM_<NAME>` (upper-cased, non-alphanumerics as `_`) for shell commands, the
 * job's identity. Input and output locations come from `ioEnvironment` (output-location.ts).
 */
export function jobEnvironment(job: Job, attempt: number): Record<string, string> {
  const env: Record<string, string> = {
    OFFPEAK_JOB_ID: job.id,
    OFFPEAK_JOB_TYPE: job.type,
    OFFPEAK_ATTEMPT: String(attempt),
    OFFPEAK_PARAMS: JSON.stringify(job.params),
  };
  for (const [name, value] of Object.entries(job.params)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      env[`OFFPEAK_PARAM_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = String(value);
    }
  }
  return env;
}
