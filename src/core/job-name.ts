/** Executor job names are `offpeak-<type>-<jobId>`: Batch allows 128 letters, digits, hyphens and underscores. */
const PREFIX = 'offpeak-';
const ULID_AT_END = /-([0-9A-HJKMNP-TV-Z]{26})$/;

export function executorJobName(jobType: string, jobId: string): string {
  return `${PREFIX}${jobType}-${jobId}`;
}

/** The Offpeak job id in an executor job name, or undefined for jobs Offpeak did not submit. */
export function jobIdFromExecutorName(jobName: string): string | undefined {
  if (!jobName.startsWith(PREFIX)) return undefined;
  return ULID_AT_END.exec(jobName)?.[1];
}
