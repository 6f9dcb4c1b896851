import { search } from '@aws-lambda-powertools/jmespath';
import { z } from 'zod';
import type { Catalog } from '../catalog.js';
import { ValidationError } from '../errors.js';
import { DerivedKeys, derivedIdempotencyKey } from '../idempotency.js';
import type { Trigger } from '../job.js';
import { IntakeMessageSchema, type SubmitRequest } from '../requests.js';
import { mapParams } from './mapping.js';
import {
  type EventTrigger,
  type QueueTrigger,
  TriggerIdSchema,
  type UploadTrigger,
} from './trigger-config.js';

/** The Offpeak bucket prefix upload triggers watch (their `prefix` is relative to it). */
export const UPLOADS_PREFIX = 'inputs/';

/** An EventBridge event envelope, as rules deliver it. */
export const EventEnvelopeSchema = z
  .object({
    version: z.string().optional(),
    id: z.string().min(1),
    'detail-type': z.string(),
    source: z.string(),
    account: z.string().optional(),
    time: z.string().optional(),
    region: z.string().optional(),
    resources: z.array(z.string()).optional(),
    detail: z.record(z.string(), z.unknown()),
  })
  .loose();
export type EventEnvelope = z.infer<typeof EventEnvelopeSchema>;

/**
 * What an Offpeak rule (S3 uploads, event triggers) puts on the intake queue: the id of the trigger whose rule
 * matched, and the whole event (the rule's input transformer writes `<aws.events.event.json>` there).
 */
export const TriggerEventMessageSchema = z
  .object({ offpeakTrigger: TriggerIdSchema, event: EventEnvelopeSchema })
  .strict();
export type TriggerEventMessage = z.infer<typeof TriggerEventMessageSchema>;

/** The `detail` of an S3 "Object Created" event on EventBridge (note: `etag`, lowercase). */
export const S3ObjectCreatedDetailSchema = z
  .object({
    bucket: z.object({ name: z.string().min(1) }).loose(),
    object: z
      .object({
        key: z.string().min(1),
        size: z.number().optional(),
        etag: z.string().optional(),
        'version-id': z.string().optional(),
        sequencer: z.string().optional(),
      })
      .loose(),
    requester: z.string().optional(),
    reason: z.string().optional(),
  })
  .loose();

/** A submission: what to submit, and where it came from. */
export interface Submission {
  readonly request: SubmitRequest;
  readonly trigger: Trigger;
}

/** The SQS record fields intake routing looks at. */
export interface IntakeRecord {
  readonly messageId: string;
  readonly eventSourceARN?: string;
  readonly body: string;
}

/**
 * Turns one intake-queue record into a submission (pure): a record from a queue trigger's queue (by its ARN) is
 * that queue's message; `{offpeakTrigger, event}` is an upload or event trigger's event; anything else is a submit
 * request with an optional trigger (Scheduler's messages, your own). A record that fits none, or names a trigger
 * that no longer exists, fails (and, after its retries, lands in the DLQ with its alarm).
 *
 * @throws ValidationError `InvalidMessage`, `UnknownTrigger`, `EventDoesNotMatchTrigger`, `MappingFailed`
 */
export function intakeSubmission(catalog: Catalog, record: IntakeRecord): Submission {
  const triggers = catalog.triggers();
  const queue = triggers.queues.find((q) => q.queueArn === record.eventSourceARN);
  if (queue) return queueSubmission(queue, record);
  const body = parseJson(record.body);
  if (body !== null && typeof body === 'object' && 'offpeakTrigger' in body) {
    const message = parseOrThrow(TriggerEventMessageSchema, body, 'Message is not a trigger event');
    const upload = triggers.uploads.find((t) => t.id === message.offpeakTrigger);
    if (upload) return uploadSubmission(upload, message.event);
    const event = triggers.events.find((t) => t.id === message.offpeakTrigger);
    if (event) return eventSubmission(event, message.event);
    throw new ValidationError(
      'UnknownTrigger',
      `No upload or event trigger "${message.offpeakTrigger}" (was it removed from the configuration?)`,
    );
  }
  const { trigger, ...request } = parseOrThrow(IntakeMessageSchema, body, 'Message is invalid');
  return {
    request: {
      ...request,
      idempotencyKey: request.idempotencyKey ?? DerivedKeys.sqsMessage(record.messageId),
    },
    trigger: trigger ?? {
      kind: 'queue',
      ...(record.eventSourceARN ? { source: record.eventSourceARN } : {}),
    },
  };
}

/** An object created under an upload trigger's prefix: one job with the object as its input. */
export function uploadSubmission(trigger: UploadTrigger, event: EventEnvelope): Submission {
  if (event.source !== 'aws.s3' || event['detail-type'] !== 'Object Created') {
    throw new ValidationError(
      'EventDoesNotMatchTrigger',
      `Upload trigger "${trigger.id}" got a "${event['detail-type']}" event from ${event.source}`,
    );
  }
  const detail = parseOrThrow(S3ObjectCreatedDetailSchema, event.detail, 'Not an S3 Object Created event');
  const { name: bucket } = detail.bucket;
  const { key } = detail.object;
  if (!uploadKeyMatches(trigger, key)) {
    throw new ValidationError(
      'EventDoesNotMatchTrigger',
      `s3://${bucket}/${key} is not under ${UPLOADS_PREFIX}${trigger.prefix} with the suffixes of trigger "${trigger.id}"`,
    );
  }
  // A versioned bucket (Offpeak's) gives every upload its own version; otherwise the ETag tells contents apart.
  const version = detail.object['version-id'] ?? detail.object.etag?.toLowerCase() ?? detail.object.sequencer;
  if (!version)
    throw new ValidationError('InvalidMessage', `s3://${bucket}/${key}: the event has no version or etag`);
  const uri = `s3://${bucket}/${key}`;
  return {
    request: {
      type: trigger.jobType,
      params: mapParams(event, trigger.mapping, trigger.params),
      ...(trigger.priority !== undefined ? { priority: trigger.priority } : {}),
      dependsOn: [],
      input: uri,
      idempotencyKey: derivedIdempotencyKey('s3', trigger.id, bucket, key, version),
    },
    trigger: { kind: 's3', source: uri, ...(detail.requester ? { actor: detail.requester } : {}) },
  };
}

/** Whether a key is under the trigger's prefix (below `inputs/`) and ends with one of its suffixes. */
export function uploadKeyMatches(trigger: Pick<UploadTrigger, 'prefix' | 'suffixes'>, key: string): boolean {
  if (!key.startsWith(`${UPLOADS_PREFIX}${trigger.prefix}`)) return false;
  return !trigger.suffixes || trigger.suffixes.some((suffix) => key.endsWith(suffix));
}

/** An event an event trigger's rule matched: one job, idempotent by the event id. */
export function eventSubmission(trigger: EventTrigger, event: EventEnvelope): Submission {
  const input = trigger.inputFrom === undefined ? undefined : evaluateInput(trigger.inputFrom, event);
  return {
    request: {
      type: trigger.jobType,
      params: mapParams(event, trigger.mapping, trigger.params),
      ...(trigger.priority !== undefined ? { priority: trigger.priority } : {}),
      dependsOn: [],
      ...(input ? { input } : {}),
      idempotencyKey: derivedIdempotencyKey('event', trigger.id, event.id),
    },
    trigger: {
      kind: 'event',
      source: `event/${trigger.id}`,
      actor: `${event.source}: ${event['detail-type']}`,
    },
  };
}

/** A message from a queue trigger's queue: its JSON body is the params (or the mapping's input). */
export function queueSubmission(trigger: QueueTrigger, record: IntakeRecord): Submission {
  const payload = parseJson(record.body);
  let params: Record<string, unknown>;
  if (trigger.mapping !== undefined) params = mapParams(payload, trigger.mapping, trigger.params);
  else if (payload !== null && typeof payload === 'object' && !Array.isArray(payload)) {
    params = { ...trigger.params, ...(payload as Record<string, unknown>) };
  } else {
    throw new ValidationError(
      'InvalidMessage',
      `A message of queue trigger "${trigger.id}" must be a JSON object (or the trigger needs a mapping)`,
    );
  }
  return {
    request: {
      type: trigger.jobType,
      params,
      ...(trigger.priority !== undefined ? { priority: trigger.priority } : {}),
      dependsOn: [],
      idempotencyKey: DerivedKeys.sqsMessage(record.messageId),
    },
    trigger: { kind: 'queue', source: trigger.queueArn },
  };
}

function evaluateInput(expression: string, event: EventEnvelope): string | undefined {
  let value: unknown;
  try {
    value = search(expression, event as unknown as Parameters<typeof search>[1]);
  } catch (error) {
    throw new ValidationError(
      'MappingFailed',
      `inputFrom "${expression}" failed: ${(error as Error).message}`,
    );
  }
  if (value === null || value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[a-z][a-z0-9+.-]*:\/\/\S+$/.test(value)) {
    throw new ValidationError('MappingFailed', `inputFrom "${expression}" did not produce a URI`);
  }
  return value;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function parseOrThrow<S extends z.ZodType>(schema: S, data: unknown, message: string): z.infer<S> {
  const result = schema.safeParse(data);
  if (!result.success) {
    throw new ValidationError(
      'InvalidMessage',
      `${message}: ${z.prettifyError(result.error).replaceAll('\n', ' ')}`,
    );
  }
  return result.data;
}
