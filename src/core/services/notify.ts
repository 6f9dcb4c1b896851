import { createHmac, timingSafeEqual } from 'node:crypto';
import { OffpeakEventType } from '../../ports/event-bus.js';
import type { NotificationSender } from '../../ports/notification-sender.js';
import type { Catalog } from '../catalog.js';
import type { Log } from '../deps.js';
import { serializeError } from '../errors.js';
import { type NotificationRule, NotifyOn } from '../observability/monitoring-spec.js';

/** An Offpeak event as EventBridge delivers it to a target (and the local bus hands it to listeners). */
export interface DeliveredEvent {
  readonly 'detail-type': string;
  readonly time?: string;
  readonly detail: Readonly<Record<string, unknown>>;
}

/** What a webhook receives (JSON body). */
export interface NotificationPayload {
  readonly event: string;
  readonly jobId: string;
  readonly type: string;
  readonly state: string;
  readonly attempt?: number;
  readonly exitCode?: number;
  readonly reason?: string;
  readonly finishedAt?: string;
  /** The job in the dashboard, when its URL is configured. */
  readonly url?: string;
  readonly time: string;
}

const outcomeByEvent: Record<string, NotifyOn> = {
  [OffpeakEventType.JobSucceeded]: NotifyOn.Succeeded,
  [OffpeakEventType.JobFailed]: NotifyOn.Failed,
  [OffpeakEventType.JobCancelled]: NotifyOn.Cancelled,
  [OffpeakEventType.JobSkipped]: NotifyOn.Skipped,
  [OffpeakEventType.JobRetrying]: NotifyOn.Retrying,
};

/** Signature header: `v1=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`. */
export const SIGNATURE_HEADER = 'x-offpeak-signature';
/** Unix seconds the signature was made at; receivers reject old ones (replay). */
export const TIMESTAMP_HEADER = 'x-offpeak-timestamp';

/**
 * Signs a webhook body: HMAC-SHA256 with the shared secret over `<timestamp>.<raw body>`, so a receiver can check
 * both that Offpeak sent it and that it is recent (see {@link verifyWebhookSignature}).
 */
export function signWebhook(body: string, secret: string, timestampSeconds: number): Record<string, string> {
  const digest = createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
  return { [TIMESTAMP_HEADER]: String(timestampSeconds), [SIGNATURE_HEADER]: `v1=${digest}` };
}

/** Checks a received webhook (constant-time) and its age. For receivers, and for tests. */
export function verifyWebhookSignature(
  body: string,
  headers: Readonly<Record<string, string | undefined>>,
  secret: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  const timestamp = Number(headers[TIMESTAMP_HEADER]);
  const signature = headers[SIGNATURE_HEADER] ?? '';
  if (!Number.isInteger(timestamp) || Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(signWebhook(body, secret, timestamp)[SIGNATURE_HEADER] ?? '');
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** The rules of the event's job type that ask for this outcome. Pure. */
export function matchingRules(catalog: Catalog, event: DeliveredEvent): NotificationRule[] {
  const outcome = outcomeByEvent[event['detail-type']];
  const type = event.detail.type;
  if (!outcome || typeof type !== 'string') return [];
  let rules: readonly NotificationRule[] = [];
  try {
    rules = catalog.jobType(type).notifications ?? [];
  } catch {
    return []; // a type removed since: nobody to tell
  }
  return rules.filter((rule) => (rule.on ?? [NotifyOn.Failed]).includes(outcome));
}

/** The payload and the human text of a notification. */
export function notificationOf(
  event: DeliveredEvent,
  dashboardUrl: string | undefined,
  now: Date,
): {
  payload: NotificationPayload;
  subject: string;
  text: string;
} {
  const d = event.detail;
  const jobId = String(d.jobId ?? '');
  const url = dashboardUrl ? `${dashboardUrl.replace(/\/$/, '')}/#/jobs/${jobId}` : undefined;
  const payload: NotificationPayload = {
    event: event['detail-type'],
    jobId,
    type: String(d.type ?? ''),
    state: String(d.state ?? ''),
    ...(typeof d.attempt === 'number' ? { attempt: d.attempt } : {}),
    ...(typeof d.exitCode === 'number' ? { exitCode: d.exitCode } : {}),
    ...(typeof d.statusReason === 'string' ? { reason: d.statusReason } : {}),
    ...(typeof d.finishedAt === 'string' ? { finishedAt: d.finishedAt } : {}),
    ...(url ? { url } : {}),
    time: event.time ?? now.toISOString(),
  };
  const subject = `Offpeak: ${payload.type} job ${payload.state}`.slice(0, 100);
  const text = [
    `Job ${payload.jobId} (${payload.type}) is ${payload.state}.`,
    payload.exitCode !== undefined ? `Exit code: ${payload.exitCode}` : '',
    payload.reason ? `Reason: ${payload.reason}` : '',
    payload.attempt !== undefined ? `Attempt: ${payload.attempt}` : '',
    url ? `Details: ${url}` : `Details: offpeak status ${payload.jobId}`,
  ]
    .filter(Boolean)
    .join('\n');
  return { payload, subject, text };
}

/**
 * Sends the notifications one Offpeak event asks for (per job type `notifications`). Every rule is tried; a
 * failure is logged and rethrown at the end, so the event is retried (EventBridge → Lambda retries, then the
 * target DLQ). A retried event may notify twice: receivers dedupe on `jobId` + `event` + `attempt`.
 *
 * @returns how many were sent.
 */
export async function deliverNotifications(
  deps: {
    readonly catalog: Catalog;
    readonly sender: NotificationSender;
    readonly log: Log;
    readonly now: () => Date;
  },
  event: DeliveredEvent,
  dashboardUrl?: string,
): Promise<number> {
  const rules = matchingRules(deps.catalog, event);
  if (rules.length === 0) return 0;
  const { payload, subject, text } = notificationOf(event, dashboardUrl, deps.now());
  const body = JSON.stringify(payload);
  const failures: unknown[] = [];
  let sent = 0;
  for (const rule of rules) {
    try {
      if (rule.snsTopicArn) await deps.sender.publishSns(rule.snsTopicArn, subject, text);
      else if (rule.webhook) {
        const secret = await deps.sender.webhookSecret(rule.webhook);
        const headers = {
          'content-type': 'application/json',
          'user-agent': 'Offpeak-Notifier',
          ...signWebhook(body, secret, Math.floor(deps.now().getTime() / 1000)),
        };
        await deps.sender.postWebhook(rule.webhook.url, body, headers);
      }
      sent++;
    } catch (error) {
      failures.push(error);
      deps.log.error('Notification failed', {
        jobId: payload.jobId,
        target: rule.snsTopicArn ?? rule.webhook?.url,
        error: serializeError(error),
      });
    }
  }
  if (failures.length > 0)
    throw new AggregateError(failures, `${failures.length} of ${rules.length} notifications failed`);
  deps.log.info('Notifications sent', { jobId: payload.jobId, event: payload.event, sent });
  return sent;
}
