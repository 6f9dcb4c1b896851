import { z } from 'zod';

/**
 * When a job with dependencies may run (the Airflow vocabulary):
 * - `all_success` (default): every dependency SUCCEEDED; skipped as soon as one ends otherwise (fail fast).
 * - `all_done`: every dependency ended, however (continue on error); never skipped.
 * - `one_success`: as soon as one dependency SUCCEEDED; skipped when all ended and none succeeded.
 * - `none_failed`: every dependency SUCCEEDED or was SKIPPED; skipped as soon as one FAILED or was CANCELLED.
 */
export const TriggerRule = {
  AllSuccess: 'all_success',
  AllDone: 'all_done',
  OneSuccess: 'one_success',
  NoneFailed: 'none_failed',
} as const;
export type TriggerRule = (typeof TriggerRule)[keyof typeof TriggerRule];

export const triggerRules = Object.values(TriggerRule) as readonly TriggerRule[];

export const TriggerRuleSchema = z.enum(triggerRules as [TriggerRule, ...TriggerRule[]]);
