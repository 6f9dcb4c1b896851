import { isUtf8 } from 'node:buffer';

const NEWLINE = 0x0a;

/** What {@link ownedRecords} has seen so far (live: read it while iterating). */
export interface OwnedRecordsStats {
  /** Complete records emitted (a last record without a newline counts once the input ends). */
  records: number;
  /** Bytes emitted (the records as they are in the object, newlines included). */
  bytes: number;
  /** Absolute offset just past the last complete record emitted: where the next owned record starts. */
  committedOffset: number;
  /** True once every owned record was emitted. */
  done: boolean;
  /** Absolute offset just past the last byte emitted (the start of the next slice). */
  emittedUntil?: number;
}

export interface OwnedRecordsOptions {
  /** Absolute offset of the first byte `source` yields: `start - 1` for `start > 0`, else 0. */
  readonly readFrom: number;
  /** The range `[start, end)`: the records that start inside it are owned. */
  readonly start: number;
  readonly end: number;
  /** Drop the first record of the object (a CSV header, sent separately). Only meaningful for `start = 0`. */
  readonly skipFirstRecord?: boolean;
  /** Check that records are UTF-8 text without NUL bytes; binary data fails with {@link BinaryInputError}. */
  readonly requireText?: boolean;
  /** Receives the counts as they change. @default a fresh object */
  readonly stats?: OwnedRecordsStats;
}

/** A lines/JSON Lines/CSV input holds bytes that are not UTF-8 text. */
export class BinaryInputError extends Error {
  override readonly name = 'BinaryInputError';
  readonly code = 'BinaryInput';
  constructor(
    readonly offset: number,
    why: string,
  ) {
    super(`Input is not text near byte ${offset}: ${why}`);
  }
}

/** Where a read for the range `[start, end)` begins (design §3: seek to `start - 1`). */
export function readStartFor(start: number): number {
  return start > 0 ? start - 1 : 0;
}

/**
 * Yields exactly the bytes of the records a chunk owns (design §3): reading from `start - 1`, it skips to the
 * first newline (the record in progress belongs to the previous chunk), then yields records while they start
 * before `end`, reading past `end` to finish the last one. Returns as soon as the last owned record is complete,
 * so the caller stops the transfer there. A record is a line: CRLF stays in the record; a last line without a
 * newline is a record.
 *
 * @example
 * const body = await objects.read(key, { start: readStartFor(start) });
 * for await (const bytes of ownedRecords(body, { readFrom: readStartFor(start), start, end })) stdin.write(bytes);
 */
export async function* ownedRecords(
  source: AsyncIterable<Uint8Array>,
  options: OwnedRecordsOptions,
): AsyncGenerator<Uint8Array, OwnedRecordsStats> {
  const { start, end } = options;
  const stats: OwnedRecordsStats = options.stats ?? {
    records: 0,
    bytes: 0,
    committedOffset: start,
    done: false,
  };
  stats.committedOffset = start;
  stats.done = false;
  const guard = options.requireText ? new TextGuard() : undefined;
  // Skip until (and including) the first newline at or after `skipFrom`; -1: nothing to skip.
  let skipFrom = start > 0 ? start - 1 : options.skipFirstRecord ? 0 : -1;
  if (skipFrom < 0 && start >= end) {
    stats.done = true;
    return stats;
  }
  let position = options.readFrom;
  let inRecord = false;
  for await (const piece of source) {
    const bytes =
      piece instanceof Buffer ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    let from = 0;
    if (skipFrom >= 0) {
      const at = bytes.indexOf(NEWLINE, Math.max(0, skipFrom - position));
      if (at < 0) {
        position += bytes.length;
        continue;
      }
      const next = position + at + 1;
      skipFrom = -1;
      stats.committedOffset = next;
      if (next >= end) {
        stats.done = true;
        return stats;
      }
      from = at + 1;
    }
    // The record that starts before `end` and ends at the first newline at or after `end - 1` is the last one.
    const lastNewline = bytes.indexOf(NEWLINE, Math.max(from, end - 1 - position));
    const until = lastNewline < 0 ? bytes.length : lastNewline + 1;
    if (until > from) {
      const out = bytes.subarray(from, until);
      guard?.check(out, position + from);
      const newlines = countNewlines(out);
      stats.records += newlines;
      stats.bytes += out.length;
      if (newlines > 0) stats.committedOffset = position + from + out.lastIndexOf(NEWLINE) + 1;
      inRecord = out[out.length - 1] !== NEWLINE;
      stats.emittedUntil = position + until;
      yield out;
    }
    position += bytes.length;
    if (lastNewline >= 0) {
      guard?.end(position);
      stats.done = true;
      return stats;
    }
  }
  // The object ended: a last record without a newline is complete too.
  guard?.end(position);
  if (inRecord) {
    stats.records += 1;
    stats.committedOffset = position;
  }
  stats.done = true;
  return stats;
}

function countNewlines(bytes: Buffer): number {
  let count = 0;
  for (let at = bytes.indexOf(NEWLINE); at >= 0; at = bytes.indexOf(NEWLINE, at + 1)) count++;
  return count;
}

/** Checks a byte stream for NUL bytes and invalid UTF-8, carrying an incomplete character across pieces. */
class TextGuard {
  #carry: Buffer = Buffer.alloc(0);

  check(bytes: Buffer, offset: number): void {
    const nul = bytes.indexOf(0);
    if (nul >= 0) throw new BinaryInputError(offset + nul, 'a NUL byte');
    const all = this.#carry.length > 0 ? Buffer.concat([this.#carry, bytes]) : bytes;
    const cut = completeUtf8Length(all);
    if (!isUtf8(all.subarray(0, cut)))
      throw new BinaryInputError(offset - this.#carry.length, 'invalid UTF-8');
    this.#carry = Buffer.from(all.subarray(cut));
  }

  end(offset: number): void {
    if (this.#carry.length > 0)
      throw new BinaryInputError(offset - this.#carry.length, 'a truncated UTF-8 character');
  }
}

/** Length of the longest prefix of `bytes` that does not end inside a multibyte UTF-8 character. */
function completeUtf8Length(bytes: Buffer): number {
  for (let back = 1; back <= Math.min(4, bytes.length); back++) {
    const byte = bytes[bytes.length - back]!;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: look further back for the lead
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return needed > back ? bytes.length - back : bytes.length;
  }
  return bytes.length;
}
