import { open } from 'node:fs/promises';
import type { LogReader, LogRef } from '../ports/log-reader.js';
import { localLogFile } from './local-executor.js';

/** Bytes read from the end of a log file to find its last lines. */
const TAIL_BYTES = 256 * 1024;

/**
 * Job logs of the local executor: `<dataDir>/logs/<jobId>/<executorJobId>.log`. Reads only the end of the file, so
 * a huge log costs no more than a small one.
 *
 * @example
 * const logs = new FileLogReader('.offpeak');
 * await logs.tail({ jobId, jobType: 'hello', executorJobId }, 50);
 */
export class FileLogReader implements LogReader {
  readonly #dataDir: string;

  constructor(dataDir: string) {
    this.#dataDir = dataDir;
  }

  async tail(ref: LogRef, limit: number): Promise<string[]> {
    if (!ref.executorJobId) return [];
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(localLogFile(this.#dataDir, ref.jobId, ref.executorJobId), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    try {
      const { size } = await handle.stat();
      const start = Math.max(0, size - TAIL_BYTES);
      const buffer = Buffer.alloc(size - start);
      await handle.read(buffer, 0, buffer.length, start);
      const lines = buffer.toString('utf8').split('\n');
      if (start > 0) lines.shift(); // a partial first line
      if (lines.at(-1) === '') lines.pop();
      return lines.slice(-Math.max(1, Math.floor(limit)));
    } finally {
      await handle.close();
    }
  }
}
