import type { DeadLetter } from '../../../src/core/dead-letter.js';
import { ConcurrentUpdateError, ValidationError } from '../../../src/core/errors.js';
import type {
  DeadLetterStore,
  ListDeadLettersQuery,
  MessageFailureNote,
} from '../../../src/ports/dead-letter-store.js';
import type { Page } from '../../../src/ports/job-store.js';

/**
 * An in-memory DeadLetterStore with the guarantees of the DynamoDB adapter (conditional put, version checks,
 * newest-first listing by time, status/kind/type filters, listing-bound cursors), for fast service tests.
 */
export class MemoryDeadLetterStore implements DeadLetterStore {
  readonly records = new Map<string, DeadLetter>();
  readonly notes = new Map<string, MessageFailureNote>();

  async putDeadLetter(record: DeadLetter): Promise<boolean> {
    if (this.records.has(record.id)) return false;
    this.records.set(record.id, structuredClone(dropUndefined({ ...record, version: 0 })));
    return true;
  }

  async getDeadLetter(id: string): Promise<DeadLetter | undefined> {
    const record = this.records.get(id);
    return record ? structuredClone(record) : undefined;
  }

  async getDeadLetters(ids: readonly string[]): Promise<DeadLetter[]> {
    return [...new Set(ids)].flatMap((id) => {
      const record = this.records.get(id);
      return record ? [structuredClone(record)] : [];
    });
  }

  async listDeadLetters(query: ListDeadLettersQuery): Promise<Page<DeadLetter>> {
    const listing = `${query.status}|${query.kind ?? ''}|${query.type ?? ''}`;
    const sortKey = (r: DeadLetter) => `${r.createdAt}#${r.id}`;
    const all = [...this.records.values()]
      .filter(
        (r) =>
          r.status === query.status &&
          (!query.kind || r.kind === query.kind) &&
          (!query.type || r.type === query.type) &&
          (!query.from || sortKey(r) >= query.from.toISOString()) &&
          (!query.to || sortKey(r) < query.to.toISOString()),
      )
      .sort((a, b) => (sortKey(a) < sortKey(b) ? 1 : -1));
    let start = 0;
    if (query.cursor !== undefined) {
      const after = decodeCursor(query.cursor, listing);
      start = all.findIndex((r) => sortKey(r) < after);
      if (start < 0) start = all.length;
    }
    const items = all.slice(start, start + query.limit);
    const last = items.at(-1);
    const more = start + query.limit < all.length && last;
    return {
      items: structuredClone(items),
      ...(more ? { cursor: encodeCursor(listing, sortKey(last)) } : {}),
    };
  }

  async updateDeadLetter(next: DeadLetter, expectedVersion: number): Promise<DeadLetter> {
    const current = this.records.get(next.id);
    if (!current || current.version !== expectedVersion) {
      throw new ConcurrentUpdateError('ConcurrentUpdate', `Dead letter ${next.id} changed`);
    }
    const stored = structuredClone(dropUndefined({ ...next, version: expectedVersion + 1 }));
    this.records.set(next.id, stored);
    return structuredClone(stored);
  }

  async deleteDeadLetter(id: string): Promise<boolean> {
    return this.records.delete(id);
  }

  async noteMessageFailure(note: MessageFailureNote): Promise<void> {
    this.notes.set(note.messageId, structuredClone(note));
  }

  async messageFailure(messageId: string): Promise<MessageFailureNote | undefined> {
    const note = this.notes.get(messageId);
    return note ? structuredClone(note) : undefined;
  }
}

function encodeCursor(listing: string, key: string): string {
  return Buffer.from(JSON.stringify({ l: listing, k: key })).toString('base64url');
}

function decodeCursor(cursor: string, listing: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as {
      l?: unknown;
      k?: unknown;
    };
    if (parsed.l === listing && typeof parsed.k === 'string') return parsed.k;
  } catch {
    // reported below
  }
  throw new ValidationError('InvalidCursor', 'The cursor is malformed or belongs to another listing');
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
