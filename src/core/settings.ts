import { z } from 'zod';
import type { Settings } from './deps.js';

/**
 * Overrides of the core settings, as a deployment passes them (`OFFPEAK_SETTINGS`, JSON; the CDK construct sets it
 * from its props). Unknown keys are refused so that a typo is an error, not a silently ignored setting.
 */
export const SettingsOverridesSchema = z
  .object({
    idempotencyRetentionHours: z
      .number()
      .min(0.01)
      .max(24 * 365)
      .optional(),
    submittingTimeoutMs: z.number().int().min(0).optional(),
    staleActiveMs: z.number().int().min(0).optional(),
    dispatchBatchSize: z.number().int().min(1).max(10_000).optional(),
    runnableTimeoutMs: z.number().int().min(0).optional(),
    runnableTimeoutAction: z.enum(['alert', 'fail']).optional(),
    effectsGraceMs: z.number().int().min(0).optional(),
    waitingCheckMs: z.number().int().min(0).optional(),
  })
  .strict() satisfies z.ZodType<Partial<Settings>>;
export type SettingsOverrides = z.infer<typeof SettingsOverridesSchema>;
