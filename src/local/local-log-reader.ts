import { open, stat } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { ValidationError } from '../core/errors.js';
import type { LogLine, LogPage, LogQuery, LogReader } from '../ports/log-reader.js';
import { localLogStream } from './local-executor.js';

/** Largest slice read for one page: a page never holds more than this many bytes of log. */
const MAX_PAGE_BYTES = 1024 * 1024;
const ISO_PREFIX = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z) (.*)$/s;

/**
 * Job logs from the local executor's files (`<dataDir>/logs/<jobId>/<executorJobId>.log`). The cursor is the byte
 * offset after the last whole line returned, so following a log is asking again with it; a line still being
 * written (no newline yet) waits for the next page.
 */
export class LocalLogReader implements LogReader {
  readonly #dataDir: string;

  constructor(dataDir: string) {
    this.#dataDir = resolve(dataDir);
  }

  async location(query: Omit<LogQuery, 'cursor' | 'limit' | 'tail' | 'final'>): Promise<string | undefined> {
    return this.#file(query);
  }

  async read(query: LogQuery): Promise<LogPage> {
    const file = this.#file(query);
    if (!file) return { lines: [], found: false };
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) {
      return {
        lines: [],
        found: false,
        location: file,
        ...(query.cursor ? { nextCursor: query.cursor } : {}),
      };
    }
    const size = info.size;
    let start = query.cursor !== undefined ? parseCursor(query.cursor) : 0;
    if (start > size) start = size; // the file was replaced: never read past its end
    if (query.cursor === undefined && query.tail) start = Math.max(0, size - MAX_PAGE_BYTES);
    const length = Math.min(MAX_PAGE_BYTES, size - start);
    const buffer = Buffer.alloc(length);
    if (length > 0) {
      const handle = await open(file, 'r');
      try {
        await handle.read(buffer, 0, length, start);
      } finally {
        await handle.close();
      }
    }
    // Whole lines only: what follows the last newline is still being written (unless the attempt is over and this
    // read reached the end of the file: then it is the last line, without its newline).
    const lastNewline = buffer.lastIndexOf(0x0a);
    let complete = lastNewline >= 0 ? buffer.subarray(0, lastNewline + 1) : Buffer.alloc(0);
    if (lastNewline < 0 && length === MAX_PAGE_BYTES) complete = buffer; // one enormous line: cut it
    if (query.final && start + length === size) complete = buffer;
    const tail = query.cursor === undefined && query.tail === true;
    // A tail window that starts inside the file may start mid-line: drop that partial first line.
    let skipFirst = tail && start > 0;
    const lines: { line: LogLine; end: number }[] = [];
    let lineStart = 0;
    for (let i = 0; i < complete.length; i++) {
      const newline = complete[i] === 0x0a;
      if (!newline && i !== complete.length - 1) continue;
      const text = complete
        .subarray(lineStart, newline ? i : i + 1)
        .toString('utf8')
        .replace(/\r$/, '');
      if (skipFirst) skipFirst = false;
      else lines.push({ line: toLine(text), end: start + i + 1 });
      lineStart = i + 1;
    }
    const page = tail ? lines.slice(-query.limit) : lines.slice(0, query.limit);
    const last = tail ? lines.at(-1) : page.at(-1);
    const offset = last ? last.end : start;
    return { lines: page.map((l) => l.line), nextCursor: String(offset), location: file, found: true };
  }

  #file(query: Omit<LogQuery, 'cursor' | 'limit' | 'tail' | 'final'>): string | undefined {
    const stream =
      query.chunk !== undefined
        ? localLogStream(query.jobId, `${query.executorJobId}:${query.chunk}`)
        : query.logStream;
    if (!stream) return undefined;
    const file = resolve(this.#dataDir, stream);
    // The stream name comes from stored job data: never let it point outside the logs folder.
    if (!file.startsWith(resolve(this.#dataDir, 'logs') + sep)) return undefined;
    return file;
  }
}

function parseCursor(cursor: string): number {
  if (!/^\d{1,15}$/.test(cursor)) {
    throw new ValidationError('InvalidCursor', 'The log cursor is malformed or belongs to another log');
  }
  return Number(cursor);
}

function toLine(text: string): LogLine {
  const stamped = ISO_PREFIX.exec(text);
  return stamped ? { timestamp: stamped[1]!, message: stamped[2]! } : { message: text };
}
