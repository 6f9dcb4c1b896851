import { z } from 'zod';

/**
 * "At most `limit` starts per `periodSeconds`", enforced as a token bucket refilled at `limit / periodSeconds` tokens
 * a second that holds at most `burst` tokens. With the default burst of 1 starts are spaced evenly, so any window of
 * `periodSeconds` sees at most `limit + 1` starts; a larger burst lets that many start at once after a quiet spell.
 *
 * @example { limit: 100, periodSeconds: 60 } // 100 starts a minute, one every 0.6 s
 */
export const RateLimitSchema = z
  .object({
    /** Starts allowed per period. */
    limit: z.number().int().min(1).max(1_000_000),
    /** Length of the period in seconds. */
    periodSeconds: z
      .number()
      .min(1)
      .max(7 * 86_400),
    /** Starts allowed back to back after a quiet spell. @default 1 */
    burst: z.number().int().min(1).max(1_000_000).default(1),
  })
  .strict();
export type RateLimit = z.infer<typeof RateLimitSchema>;
export type RateLimitInput = z.input<typeof RateLimitSchema>;

/** Tokens a second of a rate limit. */
export function refillPerSecond(rate: Pick<RateLimit, 'limit' | 'periodSeconds'>): number {
  return rate.limit / rate.periodSeconds;
}
