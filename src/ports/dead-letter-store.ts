import type { DeadLetter, DeadLetterKind, DeadLetterStatus } from '../core/dead-letter.js';
import type { SerializedError } from '../core/errors.js';
import type { Page } from './job-store.js';

/** A listing of dead letters, newest first. */
export interface ListDeadLettersQuery {
  /** @default 'open' */
  readonly status: DeadLetterStatus;
  readonly kind?: DeadLetterKind;
  readonly type?: string;
  /** Dead at or after (inclusive). */
  readonly from?: Date;
  /** Dead before (exclusive). */
  readonly to?: Date;
  /** 1..100 */
  readonly limit: number;
  readonly cursor?: string;
}

/** The last error of a message that failed, noted so that its dead letter can say why. */
export interface MessageFailureNote {
  readonly messageId: string;
  readonly source: string;
  readonly error: SerializedError;
  readonly receiveCount?: number;
  readonly at: string;
}

/**
 * Persistence of dead letters (in the job table on AWS: single-item conditional writes, listed through the
 * overloaded indexes; see table-schema.ts).
 */
export interface DeadLetterStore {
  /** Records a dead letter unless one with its id exists. @returns false when it already existed. */
  putDeadLetter(record: DeadLetter): Promise<boolean>;

  getDeadLetter(id: string): Promise<DeadLetter | undefined>;

  /** Reads many dead letters (missing ids are left out); order is unspecified. */
  getDeadLetters(ids: readonly string[]): Promise<DeadLetter[]>;

  listDeadLetters(query: ListDeadLettersQuery): Promise<Page<DeadLetter>>;

  /**
   * Writes `next` (version `expectedVersion + 1`) if the stored record still has `expectedVersion`.
   * @throws ConcurrentUpdateError when it changed or is gone.
   */
  updateDeadLetter(next: DeadLetter, expectedVersion: number): Promise<DeadLetter>;

  /** @returns false when there was no such dead letter. */
  deleteDeadLetter(id: string): Promise<boolean>;

  /** Notes the last error of a message (overwrites the previous note; kept about two weeks, like a DLQ). */
  noteMessageFailure(note: MessageFailureNote): Promise<void>;

  messageFailure(messageId: string): Promise<MessageFailureNote | undefined>;
}
