/** What the dispatcher asks the executor to run. */
export interface ExecutionRequest {
  /** The Offpeak job id. */
  readonly jobId: string;
  /** Executor job name; carries the job id so orphans can be found by name. */
  readonly jobName: string;
  readonly jobType: string;
  /** Offpeak queue name (mapped to an executor queue by the adapter). */
  readonly queue: string;
  readonly attempt: number;
  /** Environment passed to the container on top of the job definition's. */
  readonly environment: Readonly<Record<string, string>>;
  readonly timeoutSeconds: number;
  /** Child count for an array job (absent for a plain job). */
  readonly arraySize?: number;
  readonly tags: Readonly<Record<string, string>>;
}

/** What was submitted, as recorded on the job. */
export interface ExecutionHandle {
  readonly executorJobId: string;
  /** Job definition with revision (or `local:<type>`). */
  readonly jobDefinition: string;
  readonly image: string;
  readonly command: readonly string[];
}

/** Executor-side status (the AWS Batch vocabulary, which the local executor imitates). */
export const ExecutorStatus = {
  Submitted: 'SUBMITTED',
  Pending: 'PENDING',
  Runnable: 'RUNNABLE',
  Starting: 'STARTING',
  Running: 'RUNNING',
  Succeeded: 'SUCCEEDED',
  Failed: 'FAILED',
} as const;
export type ExecutorStatus = (typeof ExecutorStatus)[keyof typeof ExecutorStatus];

/** An executor job as described by the executor (DescribeJobs) or reported by a state-change event. */
export interface ExecutorJob {
  readonly executorJobId: string;
  readonly jobName: string;
  readonly status: ExecutorStatus;
  readonly statusReason?: string;
  readonly exitCode?: number;
  readonly createdAt?: Date;
  readonly startedAt?: Date;
  readonly stoppedAt?: Date;
  readonly logStream?: string;
  readonly arrayIndex?: number;
}

/** Runs containers: AWS Batch in the cloud, child processes locally. */
export interface Executor {
  submit(request: ExecutionRequest): Promise<ExecutionHandle>;
  /** Describes jobs by executor id; ids the executor no longer knows are left out. */
  describe(executorJobIds: readonly string[]): Promise<ExecutorJob[]>;
  /** Finds executor jobs by name (for orphans: submitted but never recorded). */
  findByName(jobName: string, queue: string): Promise<ExecutorJob[]>;
  /** Stops a job; a job that already finished is not an error. */
  terminate(executorJobId: string, reason: string): Promise<void>;
}
