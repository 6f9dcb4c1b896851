/**
 * Exit codes of `offpeak`, for scripts (documented in README.md, "The CLI"). Stable: new failure kinds get new
 * numbers, existing ones never change meaning.
 */
export const ExitCode = {
  /** Done; a waited-for or watched job SUCCEEDED. */
  Ok: 0,
  /** A waited-for or watched job ended FAILED, CANCELLED or SKIPPED. */
  JobFailed: 1,
  /** Bad command line, or the API rejected the input (HTTP 400, 413, 415). */
  Usage: 2,
  /** No such job (or schedule, pipeline, dead letter): HTTP 404. */
  NotFound: 3,
  /** No AWS credentials, or the API refused them (HTTP 401/403). */
  Auth: 4,
  /** The API could not be reached (wrong URL, service not running, DNS, TLS) or did not answer like Offpeak. */
  Unreachable: 5,
  /** This deployment has no such route yet (an older Offpeak). */
  Unsupported: 6,
  /** The request conflicts with the job's state (HTTP 409), e.g. cancelling a finished job. */
  Conflict: 7,
  /** The API failed (HTTP 5xx); retrying later may help. */
  ServerError: 8,
  /** `--wait`/`--timeout` ran out before the job finished. */
  Timeout: 9,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error the CLI reports as one message on stderr and an exit code. */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  /** The API's error body, printed with `--json`. */
  readonly body?: unknown;

  constructor(exitCode: ExitCode, message: string, body?: unknown) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.body = body;
  }
}
