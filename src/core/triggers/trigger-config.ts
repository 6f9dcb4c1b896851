import { z } from 'zod';
import { CatchUpPolicy, DEFAULT_CATCH_UP_LIMIT, MAX_CATCH_UP_LIMIT } from './catch-up.js';
import { type EventPattern, eventPatternProblems } from './event-pattern.js';
import { mappingProblems, ParamsMappingSchema } from './mapping.js';
import { parseScheduleExpression } from './schedule-expression.js';
import { isTimeZone } from './zoned-time.js';

/**
 * A trigger's id: also the EventBridge Scheduler schedule name, the webhook path (`/hooks/<id>`) and part of rule
 * names, so Scheduler's rules apply: letters, digits, `-`, `_`, `.`, at most 64.
 */
export const TriggerIdSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/,
    'letters, digits, "-", "_" and ".", starting with a letter or digit, at most 64',
  );

const CatchUpSchema = z.enum([CatchUpPolicy.None, CatchUpPolicy.Latest, CatchUpPolicy.All]);

/** What every trigger has: the job type it submits, static params, a params mapping and a priority. */
const TargetFields = {
  /** The job type each delivery becomes a job of. */
  jobType: z.string().min(1).max(64),
  /** Params every job gets; a mapping's values go over them. @default {} */
  params: z.record(z.string(), z.unknown()).default({}),
  /** Payload → params (JMESPath); see {@link ParamsMappingSchema}. @default none: only `params` */
  mapping: ParamsMappingSchema.optional(),
  /** Priority of the jobs, 0–1000. @default the job type's */
  priority: z.number().int().min(0).max(1000).optional(),
  description: z.string().max(512).optional(),
};

/**
 * A schedule declared in code: deployed as an EventBridge Scheduler schedule (in the Offpeak schedule group) and run
 * by the local scheduler under `npm start`.
 *
 * @example { id: 'nightly-backup', jobType: 'nightly-backup', expression: 'cron(0 2 * * ? *)',
 *   timezone: 'Europe/Berlin', params: { source: '/var/data' }, catchUp: 'latest' }
 */
export const ScheduleDeclarationSchema = z
  .object({
    id: TriggerIdSchema,
    jobType: TargetFields.jobType,
    /** The params of every run (a schedule has no payload to map). @default {} */
    params: TargetFields.params,
    priority: TargetFields.priority,
    description: TargetFields.description,
    /** `cron(…)`, `rate(…)` or `at(…)`, as EventBridge Scheduler writes them. */
    expression: z.string().min(1).max(256),
    /** IANA time zone the expression is read in. @default 'UTC' */
    timezone: z.string().default('UTC'),
    /** @default true */
    enabled: z.boolean().default(true),
    /** Missed runs while the local service was down. @default 'none' ('latest' for one-time `at` schedules) */
    catchUp: CatchUpSchema.optional(),
    /** Most runs `catchUp: 'all'` makes up. @default 10 */
    catchUpLimit: z.number().int().min(1).max(MAX_CATCH_UP_LIMIT).default(DEFAULT_CATCH_UP_LIMIT),
  })
  .strict();
export type ScheduleDeclaration = z.infer<typeof ScheduleDeclarationSchema>;

/** Key prefixes under `inputs/`: `reports/`, `team-a/daily/` (no leading slash, ending in `/`). */
const PrefixSchema = z
  .string()
  .regex(
    /^([A-Za-z0-9!_.'()=-]+\/)+$/,
    'a key prefix like "reports/" (no leading slash, no wildcards, ending in "/")',
  )
  .max(512);

/**
 * Objects uploaded to the Offpeak bucket under `inputs/<prefix>` (S3 → EventBridge → intake queue) each become a
 * job with the object as its `input` (`s3://bucket/key`). Locally: files dropped in `.offpeak/drop/<prefix>`.
 *
 * @example { id: 'csv-reports', jobType: 'report', prefix: 'reports/', suffixes: ['.csv'] }
 */
export const UploadTriggerSchema = z
  .object({
    id: TriggerIdSchema,
    ...TargetFields,
    /** Under `inputs/` of the Offpeak bucket. */
    prefix: PrefixSchema,
    /** Only keys ending in one of these (e.g. `.csv`). @default any key under the prefix */
    suffixes: z
      .array(
        z.string().regex(/^[A-Za-z0-9!_.'()=-]{1,64}$/, 'a key ending like ".csv" (no wildcards or slashes)'),
      )
      .min(1)
      .max(10)
      .optional(),
  })
  .strict();
export type UploadTrigger = z.infer<typeof UploadTriggerSchema>;

/** A complete Secrets Manager secret ARN (with the 6-character suffix), so IAM can name exactly it. */
export const SecretArnSchema = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+-[A-Za-z0-9]{6}$/,
    'a complete Secrets Manager secret ARN (…:secret:<name>-AbCdEf)',
  );

const HookFields = {
  id: TriggerIdSchema,
  ...TargetFields,
  /** The signing secret (Secrets Manager on AWS; locally `.offpeak/secrets.json` or an environment variable). */
  secretArn: SecretArnSchema,
  /** Larger bodies get 413. @default 1 MiB (at most 5 MiB) */
  maxBodyBytes: z
    .number()
    .int()
    .min(1024)
    .max(5 * 1024 * 1024)
    .default(1024 * 1024),
};

/**
 * A GitHub webhook: `X-Hub-Signature-256` (HMAC-SHA256 of the raw body), idempotent by `X-GitHub-Delivery`.
 *
 * @example { id: 'github-push', provider: 'github', secretArn, jobType: 'hello',
 *   filter: { events: ['push'], branches: ['main'] }, mapping: { name: 'pusher.name' } }
 */
export const GithubHookSchema = z
  .object({
    ...HookFields,
    provider: z.literal('github'),
    filter: z
      .object({
        /** `X-GitHub-Event` values accepted. @default ['push'] */
        events: z
          .array(z.string().regex(/^[a-z_]+$/))
          .min(1)
          .default(['push']),
        /** For `push`: only these branches (`refs/heads/<branch>`). @default any */
        branches: z.array(z.string().min(1).max(255)).min(1).optional(),
        /** JMESPath over the payload; the delivery is ignored unless it is truthy. @default none */
        when: z.string().min(1).max(1024).optional(),
      })
      .strict()
      .default({ events: ['push'] }),
  })
  .strict();

/**
 * A webhook signed with an HMAC in a header of your choice, optionally with a timestamp header and a replay window
 * (then the signed content is `<timestamp>.<raw body>`).
 */
export const GenericHmacHookSchema = z
  .object({
    ...HookFields,
    provider: z.literal('generic-hmac'),
    /** @default 'X-Signature' */
    signatureHeader: z
      .string()
      .regex(/^[A-Za-z0-9-]+$/)
      .default('X-Signature'),
    /** @default 'sha256' */
    algorithm: z.enum(['sha256', 'sha512']).default('sha256'),
    /** @default 'hex' */
    encoding: z.enum(['hex', 'base64']).default('hex'),
    /** Text before the digest, e.g. `sha256=`. @default none */
    signaturePrefix: z.string().max(32).optional(),
    /** Header with the Unix time (seconds) the request was signed at. @default none: no replay window */
    timestampHeader: z
      .string()
      .regex(/^[A-Za-z0-9-]+$/)
      .optional(),
    /** How far the timestamp may be from now. @default 300 */
    toleranceSeconds: z.number().int().min(1).max(3600).default(300),
    /** Header with the sender's delivery id (idempotency). @default a hash of timestamp and body */
    deliveryIdHeader: z
      .string()
      .regex(/^[A-Za-z0-9-]+$/)
      .optional(),
    filter: z
      .object({ when: z.string().min(1).max(1024).optional() })
      .strict()
      .default({}),
  })
  .strict();

export const HookConfigSchema = z.discriminatedUnion('provider', [GithubHookSchema, GenericHmacHookSchema]);
export type HookConfig = z.infer<typeof HookConfigSchema>;
export type GithubHook = z.infer<typeof GithubHookSchema>;
export type GenericHmacHook = z.infer<typeof GenericHmacHookSchema>;

/**
 * An existing SQS queue (yours) whose messages each become a job: the JSON body is the params (or the mapping's
 * input), the message id the idempotency key. Give the queue a DLQ: failed messages go back to it.
 */
export const QueueTriggerSchema = z
  .object({
    id: TriggerIdSchema,
    ...TargetFields,
    queueArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}(\.fifo)?$/, 'an SQS queue ARN'),
    /** Messages per invocation. @default 10 */
    batchSize: z.number().int().min(1).max(10).default(10),
    /** The queue's customer-managed KMS key, when it has one. @default none */
    encryptionKeyArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:kms:/)
      .optional(),
  })
  .strict();
export type QueueTrigger = z.infer<typeof QueueTriggerSchema>;

/**
 * Events matching an EventBridge pattern become jobs, idempotent by event id. On the Offpeak bus this chains jobs:
 * `{ source: ['offpeak'], 'detail-type': ['Job Succeeded'], detail: { type: ['ingest'] } }`.
 */
export const EventTriggerSchema = z
  .object({
    id: TriggerIdSchema,
    ...TargetFields,
    pattern: z.record(z.string(), z.unknown()),
    /** The bus the rule listens on. @default 'offpeak' */
    bus: z.enum(['offpeak', 'default']).default('offpeak'),
    /** JMESPath giving the job's input URI, e.g. `detail.outputUri` of the job that finished. @default none */
    inputFrom: z.string().min(1).max(1024).optional(),
  })
  .strict();
export type EventTrigger = z.infer<typeof EventTriggerSchema>;

/** Every way work arrives besides `POST /jobs`, declared in code (see docs/triggers.md). */
export const TriggersConfigSchema = z
  .object({
    schedules: z.array(ScheduleDeclarationSchema).default([]),
    uploads: z.array(UploadTriggerSchema).default([]),
    hooks: z.array(HookConfigSchema).default([]),
    queues: z.array(QueueTriggerSchema).default([]),
    events: z.array(EventTriggerSchema).default([]),
  })
  .strict();
export type TriggersConfig = z.infer<typeof TriggersConfigSchema>;
export type TriggersInput = z.input<typeof TriggersConfigSchema>;

/** No triggers. */
export const noTriggers: TriggersConfig = { schedules: [], uploads: [], hooks: [], queues: [], events: [] };

/** Identity helper for authoring triggers with types. */
export function defineTriggers(triggers: TriggersInput): TriggersInput {
  return triggers;
}

/** An event pattern for Offpeak's own job events: `offpeakJobEvent('ingest', 'Job Succeeded')`. */
export function offpeakJobEvent(jobType: string | readonly string[], ...detailTypes: string[]): EventPattern {
  return {
    source: ['offpeak'],
    'detail-type': detailTypes.length > 0 ? detailTypes : ['Job Succeeded'],
    detail: { type: typeof jobType === 'string' ? [jobType] : [...jobType] },
  };
}

/** A problem with the triggers, by path. */
export interface TriggerIssue {
  readonly path: string;
  readonly message: string;
}

/**
 * Cross-checks triggers against the job types (pure): unique ids, known job types, schedule expressions and time
 * zones, mapping and filter expressions, event patterns, and event triggers that would trigger themselves.
 */
export function triggerIssues(triggers: TriggersConfig, jobTypes: readonly string[]): TriggerIssue[] {
  const issues: TriggerIssue[] = [];
  const known = new Set(jobTypes);
  const ids = new Map<string, string>();
  const all: [string, { id: string; jobType: string; mapping?: unknown }[]][] = [
    ['schedules', triggers.schedules],
    ['uploads', triggers.uploads],
    ['hooks', triggers.hooks],
    ['queues', triggers.queues],
    ['events', triggers.events],
  ];
  for (const [kind, list] of all) {
    list.forEach((trigger, index) => {
      const path = `triggers.${kind}[${index}] (${trigger.id})`;
      const other = ids.get(trigger.id);
      if (other) issues.push({ path, message: `id "${trigger.id}" is also used by ${other}` });
      ids.set(trigger.id, path);
      if (!known.has(trigger.jobType))
        issues.push({ path, message: `unknown job type "${trigger.jobType}"` });
      if (trigger.mapping !== undefined) {
        for (const { name, problem } of mappingProblems(
          trigger.mapping as Parameters<typeof mappingProblems>[0],
        )) {
          issues.push({ path: `${path}.mapping${name ? `.${name}` : ''}`, message: problem });
        }
      }
    });
  }
  triggers.schedules.forEach((schedule, index) => {
    const path = `triggers.schedules[${index}] (${schedule.id})`;
    try {
      parseScheduleExpression(schedule.expression);
    } catch (error) {
      issues.push({ path: `${path}.expression`, message: (error as Error).message });
    }
    if (!isTimeZone(schedule.timezone)) {
      issues.push({ path: `${path}.timezone`, message: `unknown time zone "${schedule.timezone}"` });
    }
  });
  triggers.hooks.forEach((hook, index) => {
    const when = hook.filter.when;
    const problem = when === undefined ? undefined : mappingProblems(when)[0]?.problem;
    if (problem) issues.push({ path: `triggers.hooks[${index}] (${hook.id}).filter.when`, message: problem });
  });
  triggers.events.forEach((trigger, index) => {
    const path = `triggers.events[${index}] (${trigger.id})`;
    const inputProblem = trigger.inputFrom === undefined ? undefined : mappingProblems(trigger.inputFrom)[0];
    if (inputProblem) issues.push({ path: `${path}.inputFrom`, message: inputProblem.problem });
    for (const problem of eventPatternProblems(trigger.pattern)) {
      issues.push({ path: `${path}.pattern`, message: problem });
    }
    if (trigger.bus === 'offpeak' && triggersItself(trigger)) {
      issues.push({
        path: `${path}.pattern`,
        message: `matches events of its own job type "${trigger.jobType}": every job would start another one`,
      });
    }
  });
  return issues;
}

/** An Offpeak-bus pattern that does not narrow `detail.type` away from the trigger's own job type. */
function triggersItself(trigger: EventTrigger): boolean {
  const source = trigger.pattern.source;
  if (Array.isArray(source) && !source.includes('offpeak')) return false;
  const detail = trigger.pattern.detail as Record<string, unknown> | undefined;
  const type = detail?.type;
  if (!Array.isArray(type)) return true;
  return type.some((t) => t === trigger.jobType || (t !== null && typeof t === 'object'));
}
