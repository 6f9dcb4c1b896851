import { z } from 'zod';

/**
 * Per job type monitoring settings (`monitoring` on a job type). Every field is optional; the stack's defaults
 * apply where one is absent.
 */
export const MonitoringSpecSchema = z
  .object({
    /**
     * How long a run of this type normally takes. A job (or chunk) running longer is a straggler: it raises the
     * straggler alarm and is flagged in the dashboard. @default - only the p95 rule applies
     */
    expectedDurationSeconds: z
      .number()
      .int()
      .min(1)
      .max(14 * 86_400)
      .optional(),
    /**
     * A run longer than this multiple of the type's recent p95 run time is a straggler too (needs 20 recent
     * successful runs). @default 3
     */
    stragglerP95Factor: z.number().min(1).max(100).optional(),
    /** The failure-rate alarm fires above this percentage of finished jobs failing. @default 20 */
    failureRatePercent: z.number().min(0).max(100).optional(),
    /** Jobs that must have finished in the alarm period before a failure rate counts. @default 5 */
    failureRateMinJobs: z.number().int().min(1).max(1_000_000).optional(),
    /** Whether this type gets its own failure-rate and straggler alarms. @default true */
    alarms: z.boolean().optional(),
  })
  .strict();
export type MonitoringSpec = z.infer<typeof MonitoringSpecSchema>;

/** Defaults of {@link MonitoringSpec}. */
export const monitoringDefaults = {
  stragglerP95Factor: 3,
  failureRatePercent: 20,
  failureRateMinJobs: 5,
  /** Recent successful runs needed before the p95 rule applies. */
  minP95Samples: 20,
} as const;

/** When a notification is sent: the job's final states, and RETRYING for a failed attempt that will be retried. */
export const NotifyOn = {
  Succeeded: 'SUCCEEDED',
  Failed: 'FAILED',
  Cancelled: 'CANCELLED',
  Skipped: 'SKIPPED',
  Retrying: 'RETRYING',
} as const;
export type NotifyOn = (typeof NotifyOn)[keyof typeof NotifyOn];

/**
 * One notification rule of a job type (`notifications` on a job type): on which outcomes, to an SNS topic or
 * to an HTTPS webhook signed with HMAC-SHA256.
 *
 * @example { on: ['FAILED'], snsTopicArn: 'arn:aws:sns:eu-west-1:123456789012:oncall' }
 * @example { on: ['SUCCEEDED', 'FAILED'], webhook: { url: 'https://hooks.example.com/offpeak', secretArn: 'arn:aws:secretsmanager:…' } }
 */
export const NotificationRuleSchema = z
  .object({
    /** @default ['FAILED'] */
    on: z
      .array(z.enum(Object.values(NotifyOn) as [NotifyOn, ...NotifyOn[]]))
      .min(1)
      .optional(),
    snsTopicArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}$/, 'an SNS topic ARN')
      .optional(),
    webhook: z
      .object({
        /** HTTPS only (plain HTTP is accepted for localhost, for local development). */
        url: z
          .url()
          .refine(
            (u) => u.startsWith('https://') || /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\//.test(u),
            'must be https:// (http:// only for localhost)',
          ),
        /** Secrets Manager secret holding the signing secret (AWS). */
        secretArn: z.string().startsWith('arn:').optional(),
        /** Environment variable holding the signing secret (local service, tests). */
        secretEnv: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
          .optional(),
      })
      .strict()
      .refine((w) => w.secretArn !== undefined || w.secretEnv !== undefined, {
        message: 'a webhook needs secretArn or secretEnv',
      })
      .optional(),
  })
  .strict()
  .refine((r) => (r.snsTopicArn === undefined) !== (r.webhook === undefined), {
    message: 'a notification rule has exactly one target: snsTopicArn or webhook',
  });
export type NotificationRule = z.infer<typeof NotificationRuleSchema>;
