/** Which log to read: one attempt's executor job. */
export interface LogRef {
  readonly jobId: string;
  readonly jobType: string;
  readonly executorJobId?: string;
  /** The log stream the executor reported (Batch: the CloudWatch Logs stream; locally the file). */
  readonly logStream?: string;
}

/** Reads job logs: CloudWatch Logs on AWS, `<dataDir>/logs/<jobId>/` locally. */
export interface LogReader {
  /**
   * The last `limit` lines of an attempt's log, oldest first.
   * @returns [] when the log does not exist (the job never started, or its log expired).
   */
  tail(ref: LogRef, limit: number): Promise<string[]>;
}
