import { parseRetryMarker, type RetryMarker, retryMarkerKey } from '../core/retry-marker.js';
import type { ObjectStore } from '../ports/object-store.js';
import type { RetryMarkers } from '../ports/retry-markers.js';

/**
 * Retry markers as objects of the Offpeak bucket (`outputs/<jobId>/_offpeak/retry-after-<attempt>`): the job role
 * may write `outputs/`, S3's read-after-write consistency means the marker a container wrote before it exited is
 * there when the tracker reads it on the FAILED event, and no job ever gets write access to the job table.
 *
 * @example
 * const markers = new ObjectStoreRetryMarkers(new S3ObjectStore({ client: clients.s3, bucket }));
 * markers.location(jobId, 2) // 's3://<bucket>/outputs/<jobId>/_offpeak/retry-after-2'
 */
export class ObjectStoreRetryMarkers implements RetryMarkers {
  readonly #objects: ObjectStore;

  constructor(objects: ObjectStore) {
    this.#objects = objects;
  }

  location(jobId: string, attempt: number): string {
    return this.#objects.uri(retryMarkerKey(jobId, attempt));
  }

  async read(jobId: string, attempt: number): Promise<RetryMarker | undefined> {
    const text = await this.#objects.getText(retryMarkerKey(jobId, attempt));
    return text === undefined ? undefined : parseRetryMarker(text);
  }
}
