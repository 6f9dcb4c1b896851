import { decodeTime, isValid, monotonicFactory } from 'ulid';

const nextUlid = monotonicFactory();

/** A new job id: a ULID, so ids sort by creation time (monotonic within one process). */
export function newJobId(now: Date = new Date()): string {
  return nextUlid(now.getTime());
}

/** True when `value` is a syntactically valid ULID (26 Crockford base-32 characters). */
export function isJobId(value: string): boolean {
  return isValid(value);
}

/** Creation time encoded in a job id. */
export function jobIdTime(id: string): Date {
  return new Date(decodeTime(id));
}
