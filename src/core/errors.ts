/**
 * Errors named by what the runtime must do with them (design §8). They are mapped once, at the edge:
 * to HTTP status codes in the API, to SQS partial-batch failures in queue consumers, to job state in the tracker.
 */

/** What the runtime must do when it meets an error. */
export const ErrorKind = {
  /** Bad input: answer 4xx, never retry. */
  Validation: 'validation',
  /** The thing asked for does not exist: 404. */
  NotFound: 'not-found',
  /** The request conflicts with current state (e.g. cancelling a finished job): 409. */
  Conflict: 'conflict',
  /** A transient failure: retry with backoff (SQS: report the record as failed). */
  Retryable: 'retryable',
  /** A permanent failure: do not retry; dead-letter or fail the job. */
  NonRetryable: 'non-retryable',
} as const;
export type ErrorKind = (typeof ErrorKind)[keyof typeof ErrorKind];

/** Serialized error as stored on a job or returned by the API. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly cause?: SerializedError;
}

export abstract class OffpeakError extends Error {
  abstract readonly kind: ErrorKind;
  /** A stable, machine-readable code (e.g. `UnknownJobType`). */
  readonly code: string;
  /** Structured details for the client (e.g. schema issues, offending ids). */
  readonly details?: unknown;

  constructor(code: string, message: string, options?: { cause?: unknown; details?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options?.details;
  }
}

export class ValidationError extends OffpeakError {
  readonly kind = ErrorKind.Validation;
}

export class NotFoundError extends OffpeakError {
  readonly kind = ErrorKind.NotFound;
}

export class ConflictError extends OffpeakError {
  readonly kind = ErrorKind.Conflict;
}

/** A transient failure; `retryAfterMs` asks for a specific delay (e.g. after a 429). */
export class RetryableError extends OffpeakError {
  readonly kind = ErrorKind.Retryable;
  readonly retryAfterMs?: number;
  constructor(
    code: string,
    message: string,
    options?: { cause?: unknown; details?: unknown; retryAfterMs?: number },
  ) {
    super(code, message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
}

export class NonRetryableError extends OffpeakError {
  readonly kind = ErrorKind.NonRetryable;
}

/** A write lost an optimistic-concurrency race (condition failed). Callers reload and re-decide. */
export class ConcurrentUpdateError extends OffpeakError {
  readonly kind = ErrorKind.Retryable;
}

/** The kind of any thrown value: unknown errors are treated as retryable (a bug or an outage, never bad input). */
export function errorKindOf(error: unknown): ErrorKind {
  return error instanceof OffpeakError ? error.kind : ErrorKind.Retryable;
}

/** Turns any thrown value into plain data that can be stored on a job (bounded depth and length). */
export function serializeError(error: unknown, depth = 0): SerializedError {
  if (error instanceof Error) {
    const code = error instanceof OffpeakError ? error.code : (error as { code?: unknown }).code;
    const cause = depth < 3 && error.cause !== undefined ? serializeError(error.cause, depth + 1) : undefined;
    return {
      name: error.name,
      message: truncate(error.message, 2000),
      ...(typeof code === 'string' ? { code } : {}),
      ...(cause ? { cause } : {}),
    };
  }
  return { name: 'Error', message: truncate(String(error), 2000) };
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
