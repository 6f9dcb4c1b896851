import type { OffpeakDeps } from '../deps.js';
import { EffectiveLimits } from '../limits.js';
import type { RateLimit } from '../rate-limit.js';
import type { PlannedSlot } from '../slot-plan.js';

/** The token bucket every dispatcher takes one token from per executor submission. */
export const SUBMIT_BUCKET = 'executor-submit';

/** Submission tokens are taken from the shared bucket this many at a time at most. */
const SUBMIT_TOKEN_CHUNK = 4;

/**
 * Tokens a pass took ahead expire after this long, so tokens of one second are not spent in the next one (which
 * would let more through in a second than the bucket allows).
 */
const HELD_TOKEN_TTL_MS = 250;

/** What a dispatcher pass knows about a rate limit it met. */
export interface RateLimited {
  readonly bucket: string;
  readonly retryAfterMs: number;
}

/**
 * The state of one dispatcher pass: the limits in force (read once, so a `PATCH` takes effect on the next pass), what
 * this pass learnt about counters (read once each, then tracked through its own acquires and releases), buckets found
 * empty, and submission tokens taken ahead from the shared bucket. It lets a pass skip jobs that cannot run without
 * writing anything; the conditional writes stay the authority.
 */
export class DispatchPass {
  readonly #deps: OffpeakDeps;
  readonly limits: EffectiveLimits;
  readonly #used = new Map<string, number>();
  readonly #emptyUntil = new Map<string, number>();
  /** Tokens taken from shared buckets and not used yet, by bucket. */
  readonly #tokens = new Map<string, number>();
  /** When the tokens of each bucket were taken (epoch ms). */
  readonly #takenAt = new Map<string, number>();

  private constructor(deps: OffpeakDeps, limits: EffectiveLimits) {
    this.#deps = deps;
    this.limits = limits;
  }

  /** A pass with the limits in force now (one read of the run-time overrides). */
  static async start(deps: OffpeakDeps): Promise<DispatchPass> {
    return new DispatchPass(deps, new EffectiveLimits(deps.catalog, await deps.scheduling.limitOverrides()));
  }

  /** True when, as far as this pass knows, `slot` has not `units` free. Reads a counter the first time it is met. */
  async looksFull(slot: PlannedSlot): Promise<boolean> {
    if (slot.units > slot.limit) return true;
    let used = this.#used.get(slot.counter);
    if (used === undefined) {
      used = (await this.#deps.store.slotUsage(slot.counter)).used;
      this.#used.set(slot.counter, used);
    }
    return used + slot.units > slot.limit;
  }

  /** Free units of a counter as far as this pass knows (undefined: not read yet). */
  free(slot: Pick<PlannedSlot, 'counter' | 'limit'>): number | undefined {
    const used = this.#used.get(slot.counter);
    return used === undefined ? undefined : Math.max(0, slot.limit - used);
  }

  acquired(slot: PlannedSlot): void {
    this.#used.set(slot.counter, (this.#used.get(slot.counter) ?? 0) + slot.units);
  }

  released(slot: PlannedSlot): void {
    this.#used.set(slot.counter, Math.max(0, (this.#used.get(slot.counter) ?? slot.units) - slot.units));
  }

  /** An acquire failed: someone else holds the rest. */
  full(slot: PlannedSlot): void {
    this.#used.set(slot.counter, slot.limit);
  }

  /** When a bucket this pass found empty has a token again (epoch ms), or undefined. */
  emptyUntil(bucket: string): number | undefined {
    const until = this.#emptyUntil.get(bucket);
    return until !== undefined && until > this.#deps.clock.now().getTime() ? until : undefined;
  }

  /**
   * Takes one token of a rate limit for the job about to be claimed: from the tokens this pass holds, else from the
   * shared bucket (`chunk` at a time at most). A token not used after all (the claim was lost, a level was full) goes
   * back to the pass with {@link putBack} for the next job; what the pass still holds at its end is dropped, which
   * only ever lowers the rate.
   * @returns undefined when taken, or when to try again.
   */
  async takeToken(bucket: string, rate: RateLimit, chunk = 1): Promise<RateLimited | undefined> {
    const nowMs = this.#deps.clock.now().getTime();
    const held =
      (this.#takenAt.get(bucket) ?? 0) > nowMs - HELD_TOKEN_TTL_MS ? (this.#tokens.get(bucket) ?? 0) : 0;
    if (held > 0) {
      this.#tokens.set(bucket, held - 1);
      return undefined;
    }
    const until = this.emptyUntil(bucket);
    if (until !== undefined) return { bucket, retryAfterMs: until - this.#deps.clock.now().getTime() };
    const grant = await this.#deps.scheduling.takeTokens(
      bucket,
      rate,
      Math.max(1, Math.min(chunk, rate.burst)),
    );
    if (grant.granted === 0) {
      this.#emptyUntil.set(bucket, this.#deps.clock.now().getTime() + grant.retryAfterMs);
      return { bucket, retryAfterMs: grant.retryAfterMs };
    }
    this.#tokens.set(bucket, grant.granted - 1);
    this.#takenAt.set(bucket, nowMs);
    return undefined;
  }

  /** Returns a token taken with {@link takeToken} that was not used. */
  putBack(bucket: string): void {
    this.#tokens.set(bucket, (this.#tokens.get(bucket) ?? 0) + 1);
  }

  /**
   * Takes one executor-submission token (the global smoother), taking up to {@link SUBMIT_TOKEN_CHUNK} ahead.
   * @param wanted how many more submissions this pass may make, so it does not take (and drop) more
   */
  async takeSubmitToken(wanted: number): Promise<RateLimited | undefined> {
    const rate = this.#deps.settings.submitRate;
    if (!rate) return undefined;
    return this.takeToken(SUBMIT_BUCKET, rate, Math.min(SUBMIT_TOKEN_CHUNK, wanted));
  }

  /** The executor throttled a submission: every dispatcher stops submitting for a while. */
  async throttled(pauseMs: number): Promise<void> {
    this.#tokens.delete(SUBMIT_BUCKET);
    this.#emptyUntil.set(SUBMIT_BUCKET, this.#deps.clock.now().getTime() + pauseMs);
    const rate = this.#deps.settings.submitRate;
    if (rate) await this.#deps.scheduling.blockTokens(SUBMIT_BUCKET, rate, pauseMs);
  }
}
