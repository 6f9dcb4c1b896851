import type { RetryMarker } from '../core/retry-marker.js';

/**
 * Where jobs leave their "retry me later" marker, and reading it back (see core/retry-marker.ts): S3 objects on
 * AWS, files locally.
 */
export interface RetryMarkers {
  /** The location given to the job in `OFFPEAK_RETRY_MARKER` for one attempt. */
  location(jobId: string, attempt: number): string;
  /**
   * The marker of one attempt. @returns undefined when the job wrote none, or wrote something that is not a
   * marker. @throws on a transient read failure (the caller retries), never for a missing marker.
   */
  read(jobId: string, attempt: number): Promise<RetryMarker | undefined>;
}
