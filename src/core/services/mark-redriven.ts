import { type DeadLetter, DeadLetterStatus } from '../dead-letter.js';
import type { OffpeakDeps } from '../deps.js';
import { ConcurrentUpdateError } from '../errors.js';

/** Marks a dead letter redriven (a record already marked, or deleted meanwhile, is left as it is). */
export async function markRedriven(
  deps: OffpeakDeps,
  record: DeadLetter,
  redrive: { readonly attempt?: number; readonly queue?: string; readonly actor?: string },
): Promise<void> {
  let current: DeadLetter | undefined = record;
  for (let tries = 0; current && current.status === DeadLetterStatus.Open && tries < 8; tries++) {
    const now = deps.clock.now().toISOString();
    try {
      await deps.deadLetters.updateDeadLetter(
        { ...current, status: DeadLetterStatus.Redriven, redrive: { at: now, ...redrive }, updatedAt: now },
        current.version,
      );
      return;
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError)) throw error;
      current = await deps.deadLetters.getDeadLetter(record.id);
    }
  }
}
