/** One line of a job's log. */
export interface LogLine {
  /** When the line was written, where the log store records it (CloudWatch does; local files only with timestamps on). */
  readonly timestamp?: string;
  readonly message: string;
}

/** Which log to read, and from where. */
export interface LogQuery {
  readonly jobId: string;
  readonly jobType: string;
  /** The executor job of the attempt (for a chunk: the array parent's id). */
  readonly executorJobId: string;
  /** The attempt's log stream as the executor reported it (absent for an array parent or before it started). */
  readonly logStream?: string;
  /** Array index of a chunk: read that child's log instead of the attempt's. */
  readonly chunk?: number;
  /** Where the previous page ended (opaque); absent: from the start, or the end with `tail`. */
  readonly cursor?: string;
  /** At most this many lines. */
  readonly limit: number;
  /** The last `limit` lines instead of the first ones (ignored with a cursor). */
  readonly tail?: boolean;
  /**
   * The attempt is over, nothing more will be written: a last line without a newline is returned too (otherwise it
   * waits for its newline, as a line still being written does).
   */
  readonly final?: boolean;
}

/** A page of log lines. `nextCursor` continues after the last line (and picks up lines written later). */
export interface LogPage {
  readonly lines: LogLine[];
  readonly nextCursor?: string;
  /** Where the log lives: a file path locally, `cloudwatch://<group>/<stream>` on AWS. */
  readonly location?: string;
  /** False when the log does not exist (yet): the attempt has not started, or wrote nothing. */
  readonly found: boolean;
}

/** Reads job logs: local files in the local service, CloudWatch Logs on AWS. */
export interface LogReader {
  read(query: LogQuery): Promise<LogPage>;
  /** Where the log of an attempt (or chunk) lives, without reading it. */
  location(query: Omit<LogQuery, 'cursor' | 'limit' | 'tail' | 'final'>): Promise<string | undefined>;
}
