import { createHash } from 'node:crypto';
import { search } from '@aws-lambda-powertools/jmespath';
import type { OffpeakDeps } from '../deps.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { derivedIdempotencyKey } from '../idempotency.js';
import { mapParams } from '../triggers/mapping.js';
import type { GenericHmacHook, GithubHook, HookConfig } from '../triggers/trigger-config.js';
import { triggerDeps } from '../triggers/trigger-deps.js';
import {
  type SignatureCheck,
  verifyGithubSignature,
  verifyHmacSignature,
} from '../triggers/webhook-signature.js';
import { type SubmitResult, submitJob } from './submit.js';

/** One webhook request, as received. */
export interface WebhookDelivery {
  readonly hookId: string;
  /** Header names lower-cased. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The body bytes exactly as received: signatures are over these. */
  readonly rawBody: Buffer;
}

export type WebhookOutcome =
  | ({ readonly kind: 'submitted' } & SubmitResult)
  | { readonly kind: 'ignored'; readonly reason: string };

/**
 * Receives a webhook: size limit, signature (constant-time, over the raw bytes), then filters, the params mapping
 * and submit, idempotent by the delivery id (GitHub's `X-GitHub-Delivery`), so a redelivery makes one job. Nothing
 * is created unless the signature is valid.
 *
 * @throws NotFoundError `HookNotFound`; ValidationError `PayloadTooLarge` (413), `InvalidSignature` (401),
 *   `MalformedJson`, `MissingDeliveryId`, `MappingFailed` (422), `InvalidParams`
 */
export async function receiveWebhook(deps: OffpeakDeps, delivery: WebhookDelivery): Promise<WebhookOutcome> {
  const hook = deps.catalog.triggers().hooks.find((h) => h.id === delivery.hookId);
  if (!hook) throw new NotFoundError('HookNotFound', `No webhook "${delivery.hookId}"`);
  if (delivery.rawBody.byteLength > hook.maxBodyBytes) {
    throw new ValidationError(
      'PayloadTooLarge',
      `Webhook body is ${delivery.rawBody.byteLength} bytes; hook "${hook.id}" accepts ${hook.maxBodyBytes}`,
    );
  }
  const secret = await triggerDeps(deps).secrets.getSecret(hook.secretArn);
  const check = verify(hook, secret, delivery, deps.clock.now());
  if (!check.ok) {
    deps.log.warn('Webhook refused', { hookId: hook.id, reason: check.reason });
    throw new ValidationError('InvalidSignature', signatureMessage(check.reason));
  }

  const payload = parsePayload(delivery);
  const ignored = hook.provider === 'github' ? githubFilter(hook, delivery, payload) : undefined;
  const reason = ignored ?? whenFilter(hook.filter.when, payload);
  if (reason) {
    deps.log.info('Webhook ignored', { hookId: hook.id, reason });
    return { kind: 'ignored', reason };
  }
  const deliveryId = deliveryIdOf(hook, delivery);
  const params = mapParams(payload, hook.mapping, hook.params);
  const sender = hook.provider === 'github' ? githubSender(payload) : undefined;
  const result = await submitJob(
    deps,
    {
      type: hook.jobType,
      params,
      ...(hook.priority !== undefined ? { priority: hook.priority } : {}),
      dependsOn: [],
      idempotencyKey: derivedIdempotencyKey('webhook', hook.id, deliveryId),
    },
    { kind: 'webhook', source: `hook/${hook.id}`, ...(sender ? { actor: sender } : {}) },
  );
  return { kind: 'submitted', ...result };
}

function verify(hook: HookConfig, secret: string, delivery: WebhookDelivery, now: Date): SignatureCheck {
  if (hook.provider === 'github') {
    return verifyGithubSignature(secret, delivery.rawBody, delivery.headers['x-hub-signature-256']);
  }
  return verifyHmacSignature({
    secret,
    rawBody: delivery.rawBody,
    signature: delivery.headers[hook.signatureHeader.toLowerCase()],
    scheme: {
      algorithm: hook.algorithm,
      encoding: hook.encoding,
      ...(hook.signaturePrefix ? { prefix: hook.signaturePrefix } : {}),
    },
    timestamp: hook.timestampHeader ? delivery.headers[hook.timestampHeader.toLowerCase()] : undefined,
    requireTimestamp: hook.timestampHeader !== undefined,
    toleranceSeconds: hook.toleranceSeconds,
    now,
  });
}

function signatureMessage(reason: string): string {
  switch (reason) {
    case 'missing':
      return 'The request carries no signature';
    case 'missing-timestamp':
      return 'The request carries no timestamp';
    case 'stale-timestamp':
      return 'The signature timestamp is outside the replay window';
    case 'malformed':
      return 'The signature header is malformed';
    default:
      return 'The signature does not match';
  }
}

/** JSON, or GitHub's form encoding (`payload=<json>`). */
function parsePayload(delivery: WebhookDelivery): unknown {
  const text = delivery.rawBody.toString('utf8');
  const contentType = delivery.headers['content-type'] ?? '';
  const json = /^application\/x-www-form-urlencoded\b/i.test(contentType)
    ? (new URLSearchParams(text).get('payload') ?? '')
    : text;
  try {
    return JSON.parse(json);
  } catch (error) {
    throw new ValidationError(
      'MalformedJson',
      `Webhook payload is not valid JSON: ${(error as Error).message}`,
    );
  }
}

/** Why GitHub's delivery is not for this hook, or undefined. */
function githubFilter(hook: GithubHook, delivery: WebhookDelivery, payload: unknown): string | undefined {
  const event = delivery.headers['x-github-event'];
  if (event === 'ping') return 'ping: the hook is set up';
  if (!event || !hook.filter.events.includes(event)) {
    return `event "${event ?? '(none)'}" is not one of ${hook.filter.events.join(', ')}`;
  }
  if (hook.filter.branches && event === 'push') {
    const ref = (payload as { ref?: unknown }).ref;
    const branch = typeof ref === 'string' && ref.startsWith('refs/heads/') ? ref.slice(11) : undefined;
    if (!branch || !hook.filter.branches.includes(branch)) {
      return `ref ${typeof ref === 'string' ? ref : '(none)'} is not a branch of ${hook.filter.branches.join(', ')}`;
    }
  }
  return undefined;
}

function whenFilter(when: string | undefined, payload: unknown): string | undefined {
  if (when === undefined) return undefined;
  let value: unknown;
  try {
    value = search(when, payload as Parameters<typeof search>[1]);
  } catch (error) {
    throw new ValidationError('MappingFailed', `The filter "${when}" failed: ${(error as Error).message}`);
  }
  // JMESPath truthiness: false, null, empty strings, arrays and objects are false.
  const truthy =
    value !== false &&
    value !== null &&
    value !== undefined &&
    value !== '' &&
    !(Array.isArray(value) && value.length === 0) &&
    !(typeof value === 'object' && value !== null && Object.keys(value).length === 0);
  return truthy ? undefined : `the filter "${when}" is false for this payload`;
}

function deliveryIdOf(hook: HookConfig, delivery: WebhookDelivery): string {
  if (hook.provider === 'github') {
    const id = delivery.headers['x-github-delivery'];
    if (!id) throw new ValidationError('MissingDeliveryId', 'The request has no X-GitHub-Delivery header');
    return id;
  }
  return genericDeliveryId(hook, delivery);
}

function genericDeliveryId(hook: GenericHmacHook, delivery: WebhookDelivery): string {
  const given = hook.deliveryIdHeader ? delivery.headers[hook.deliveryIdHeader.toLowerCase()] : undefined;
  if (given) return given;
  const stamp = hook.timestampHeader ? (delivery.headers[hook.timestampHeader.toLowerCase()] ?? '') : '';
  return `sha256:${createHash('sha256').update(`${stamp}.`).update(delivery.rawBody).digest('hex')}`;
}

function githubSender(payload: unknown): string | undefined {
  const login = (payload as { sender?: { login?: unknown } }).sender?.login;
  return typeof login === 'string' ? `github:${login}` : undefined;
}
