import type { OffpeakDeps } from '../deps.js';
import { NotFoundError } from '../errors.js';
import { scopedIdempotencyKey } from '../idempotency.js';

/**
 * Releases an idempotency key so that the next submit with it makes a new job (on purpose: the earlier job stays
 * as it is). `key` is the key as the client sent it (or a job's payload-hash key, `payload:<sha256>`), `type` the
 * job type it was used with: stored keys are scoped by type.
 *
 * @throws NotFoundError `IdempotencyKeyNotFound`
 */
export async function releaseIdempotencyKey(deps: OffpeakDeps, type: string, key: string): Promise<void> {
  if (!(await deps.store.releaseIdempotencyKey(scopedIdempotencyKey(type, key)))) {
    throw new NotFoundError(
      'IdempotencyKeyNotFound',
      `No idempotency key "${key}" for job type "${type}" (never used, expired, or already released)`,
      { details: { key, type } },
    );
  }
  deps.log.info('Idempotency key released', { type, key });
}
