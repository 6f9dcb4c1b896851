import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseRetryMarker, RETRY_MARKER_MAX_BYTES, type RetryMarker } from '../core/retry-marker.js';
import type { RetryMarkers } from '../ports/retry-markers.js';

/**
 * Retry markers of local jobs as files: `<dataDir>/markers/<jobId>/retry-after-<attempt>`. A local job is a process
 * on this machine (its log is a file too), so it asks for a later retry with
 * `echo 120 > "$OFFPEAK_RETRY_MARKER"` — no SDK or CLI needed. On AWS the same variable holds an S3 URI.
 *
 * @example
 * const markers = new FileRetryMarkers('.offpeak');
 * markers.location(jobId, 1) // '/…/.offpeak/markers/<jobId>/retry-after-1' (its directory exists)
 */
export class FileRetryMarkers implements RetryMarkers {
  readonly #dataDir: string;

  constructor(dataDir: string) {
    this.#dataDir = resolve(dataDir);
  }

  /** The marker file of an attempt; its directory is created so the job can simply write the file. */
  location(jobId: string, attempt: number): string {
    const file = this.#file(jobId, attempt);
    mkdirSync(dirname(file), { recursive: true });
    return file;
  }

  async read(jobId: string, attempt: number): Promise<RetryMarker | undefined> {
    let text: string;
    try {
      text = await readFile(this.#file(jobId, attempt), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    return text.length > RETRY_MARKER_MAX_BYTES ? undefined : parseRetryMarker(text);
  }

  #file(jobId: string, attempt: number): string {
    return join(this.#dataDir, 'markers', jobId.replace(/[^A-Za-z0-9-]/g, '_'), `retry-after-${attempt}`);
  }
}
