import type { ListDeadLettersQuery } from '../../ports/dead-letter-store.js';
import type { Page } from '../../ports/job-store.js';
import { CrashPoint, crashPoint } from '../crash-point.js';
import {
  DEAD_LETTER_BODY_MAX_BYTES,
  DEAD_LETTER_LOG_LINE_MAX,
  DEAD_LETTER_LOG_LINES,
  DEAD_LETTER_PARAMS_MAX_BYTES,
  type DeadJob,
  type DeadLetter,
  type DeadLetterKind,
  DeadLetterStatus,
  type DeadLetterSummary,
  jobDeadLetterId,
  type MessageSource,
  messageDeadLetterId,
  type RedriveTarget,
  summarizeDeadLetter,
} from '../dead-letter.js';
import type { OffpeakDeps } from '../deps.js';
import {
  ConflictError,
  ErrorKind,
  errorKindOf,
  NotFoundError,
  type SerializedError,
  serializeError,
  ValidationError,
} from '../errors.js';
import type { Job } from '../job.js';
import { jobIdFromExecutorName } from '../job-name.js';
import { type MetricDatum, MetricDimension, MetricName } from '../observability/metrics.js';
import { markRedriven } from './mark-redriven.js';
import { retryJob } from './retry.js';

/** Message attribute carrying the id of the first message a redriven message descends from. */
export const REDRIVE_OF_ATTRIBUTE = 'offpeak-redrive-of';

/** The metrics of a new dead letter: `DeadLetters` by kind (the alarms watch it), and per job type for a job. */
function deadLetterMetrics(kind: 'job' | 'message', jobType?: string): MetricDatum[] {
  const count = (name: MetricName, dimensions: Record<string, string>): MetricDatum => ({
    name,
    unit: 'Count',
    value: 1,
    dimensions,
  });
  return [
    count(MetricName.DeadLetters, { [MetricDimension.Kind]: kind }),
    ...(jobType ? [count(MetricName.JobsDeadLettered, { [MetricDimension.JobType]: jobType })] : []),
  ];
}

const LOG_READ_TIMEOUT_MS = 5_000;

/**
 * Records the dead letter of a job that ended FAILED: the job (params, attempts, errors, history), the last lines
 * of its failed attempt's log and why. Idempotent: one dead letter per job and attempt, so completion effects that
 * run again (redelivery, reconciler) change nothing. Reading the log is best effort and bounded in time.
 *
 * @returns the dead letter (new or existing).
 */
export async function recordJobDeadLetter(deps: OffpeakDeps, job: Job): Promise<DeadLetter> {
  const id = jobDeadLetterId(job.id, job.attempt);
  const existing = await deps.deadLetters.getDeadLetter(id);
  if (existing) return existing;

  const attempt = job.attempts.find((a) => a.attempt === job.attempt);
  let logLines: string[] | undefined;
  let logError: string | undefined;
  if (!deps.logs) {
    logError = 'no log reader is configured';
  } else if (!attempt?.executorJobId && !attempt?.logStream) {
    logError = 'the attempt never started, so it has no log';
  } else {
    try {
      const page = await withTimeout(
        deps.logs.read({
          jobId: job.id,
          jobType: job.type,
          executorJobId: attempt.executorJobId ?? '',
          ...(attempt.logStream ? { logStream: attempt.logStream } : {}),
          limit: DEAD_LETTER_LOG_LINES,
          tail: true,
          final: true, // the job failed for good: its last line counts even without a newline
        }),
        LOG_READ_TIMEOUT_MS,
      );
      logLines = page.lines
        .slice(-DEAD_LETTER_LOG_LINES)
        .map((line) => cut(line.message, DEAD_LETTER_LOG_LINE_MAX));
    } catch (error) {
      logError = `the log could not be read: ${serializeError(error).message}`;
      deps.log.warn('Dead letter without log lines', { jobId: job.id, error: serializeError(error) });
    }
  }

  const now = deps.clock.now().toISOString();
  const paramsTooLarge = Buffer.byteLength(JSON.stringify(job.params), 'utf8') > DEAD_LETTER_PARAMS_MAX_BYTES;
  const snapshot: DeadJob = {
    state: job.state,
    queue: job.queue,
    attempt: job.attempt,
    maxAttempts: job.maxAttempts,
    params: paramsTooLarge ? {} : job.params,
    ...(paramsTooLarge ? { paramsTruncated: true } : {}),
    trigger: job.trigger,
    ...(job.idempotencyKey ? { idempotencyKey: job.idempotencyKey } : {}),
    ...(job.exitCode !== undefined ? { exitCode: job.exitCode } : {}),
    ...(job.statusReason ? { statusReason: job.statusReason } : {}),
    ...(job.error ? { error: job.error } : {}),
    attempts: job.attempts,
    history: job.history,
    createdAt: job.createdAt,
    ...(job.finishedAt ? { finishedAt: job.finishedAt } : {}),
  };
  const record: DeadLetter = {
    id,
    kind: 'job',
    status: DeadLetterStatus.Open,
    createdAt: job.finishedAt ?? now,
    type: job.type,
    jobId: job.id,
    reason: jobFailureReason(job),
    ...(job.error ? { error: job.error } : {}),
    job: snapshot,
    ...(logLines ? { logLines } : {}),
    ...(logError ? { logError } : {}),
    updatedAt: now,
    version: 0,
  };
  if (await deps.deadLetters.putDeadLetter(record)) {
    deps.metrics?.record(deadLetterMetrics('job', job.type));
    deps.log.warn('Job dead-lettered', { jobId: job.id, deadLetterId: id, reason: record.reason });
    return record;
  }
  return (await deps.deadLetters.getDeadLetter(id)) ?? record;
}

/** One line saying why a job failed for good: the retry decision and the last error. */
function jobFailureReason(job: Job): string {
  const decision = [...job.history].reverse().find((h) => h.state === job.state)?.reason;
  const cause = job.error
    ? `${job.error.code ? `${job.error.code}: ` : ''}${job.error.message}`
    : (job.statusReason ?? 'failed');
  return cut(decision && decision !== cause ? `${decision} (${cause})` : cause, 1000);
}

/** A message as a queue delivered it, on its way to becoming a dead letter. */
export interface DeadMessageInput {
  readonly source: MessageSource;
  readonly messageId: string;
  readonly body: string;
  readonly attributes?: Readonly<Record<string, string>>;
  readonly messageAttributes?: Readonly<Record<string, string>>;
  readonly receiveCount?: number;
}

/**
 * Records a message no consumer could handle: either a poison message its consumer rejected at once (`error` says
 * why), or one its queue moved to the DLQ after maxReceiveCount (the ingester; the reason is the consumer's last
 * noted error, EventBridge's error attributes, or the receive count). Idempotent per message id.
 */
export async function recordMessageDeadLetter(
  deps: OffpeakDeps,
  message: DeadMessageInput,
  error?: SerializedError,
): Promise<{ readonly record: DeadLetter; readonly created: boolean }> {
  const id = messageDeadLetterId(message.messageId);
  const existing = await deps.deadLetters.getDeadLetter(id);
  if (existing) return { record: existing, created: false };

  const parsed = parseJson(message.body);
  const about = await describeMessage(deps, message.source, parsed);
  const note = error ? undefined : await deps.deadLetters.messageFailure(message.messageId);
  const cause = error ?? note?.error;
  const attributes = message.messageAttributes ?? {};
  const eventBridgeError =
    message.source === 'eventbridge' && (attributes.ERROR_CODE || attributes.ERROR_MESSAGE)
      ? `EventBridge could not deliver it: ${[attributes.ERROR_CODE, attributes.ERROR_MESSAGE].filter(Boolean).join(': ')}`
      : undefined;
  const reason =
    (cause ? `${cause.code ? `${cause.code}: ` : ''}${cause.message}` : undefined) ??
    eventBridgeError ??
    `no consumer handled it in ${message.receiveCount ?? 'several'} receives`;
  const redriveTo = redriveTargetOf(message.source, parsed);
  const now = deps.clock.now().toISOString();
  const body =
    Buffer.byteLength(message.body, 'utf8') > DEAD_LETTER_BODY_MAX_BYTES
      ? message.body.slice(0, DEAD_LETTER_BODY_MAX_BYTES / 4)
      : message.body;
  const record: DeadLetter = {
    id,
    kind: 'message',
    status: DeadLetterStatus.Open,
    createdAt: now,
    ...(about.type ? { type: about.type } : {}),
    ...(about.jobId ? { jobId: about.jobId } : {}),
    reason: cut(reason, 1000),
    ...(cause ? { error: cause } : {}),
    message: {
      source: message.source,
      ...(redriveTo ? { redriveTo } : {}),
      messageId: message.messageId,
      body,
      attributes: { ...(message.attributes ?? {}) },
      messageAttributes: { ...attributes },
      ...(message.receiveCount !== undefined ? { receiveCount: message.receiveCount } : {}),
    },
    updatedAt: now,
    version: 0,
  };
  const created = await deps.deadLetters.putDeadLetter(record);
  if (created) {
    deps.metrics?.record(deadLetterMetrics('message'));
    deps.log.warn('Message dead-lettered', {
      deadLetterId: id,
      source: message.source,
      messageId: message.messageId,
      reason: record.reason,
    });
  }
  return {
    record: created ? record : ((await deps.deadLetters.getDeadLetter(id)) ?? record),
    created,
  };
}

/** The job type and job a message is about, when it says (best effort: a poison message may say nothing). */
async function describeMessage(
  deps: OffpeakDeps,
  source: MessageSource,
  body: unknown,
): Promise<{ type?: string; jobId?: string }> {
  if (!isRecord(body)) return {};
  if (source === 'intake') return typeof body.type === 'string' ? { type: cut(body.type, 64) } : {};
  let jobId: string | undefined;
  if (source === 'dispatch' && typeof body.jobId === 'string') jobId = body.jobId;
  const detail = body.detail;
  if (isRecord(detail) && typeof detail.jobName === 'string') jobId = jobIdFromExecutorName(detail.jobName);
  if (!jobId) return {};
  try {
    const job = await deps.store.getJob(jobId);
    return job ? { type: job.type, jobId } : { jobId };
  } catch {
    return { jobId };
  }
}

/** Where a redrive sends a dead message: its own queue; an undelivered Batch event goes to the events queue. */
function redriveTargetOf(source: MessageSource, body: unknown): RedriveTarget | undefined {
  if (source !== 'eventbridge') return source;
  // EventBridge's DLQ also gets missed schedule ticks: those are made up by the next tick, never redriven.
  return isRecord(body) && body['detail-type'] === 'Batch Job State Change' ? 'events' : undefined;
}

/** A page of dead-letter summaries (the full record is `GET /dead-letters/{id}`). */
export async function listDeadLetters(
  deps: OffpeakDeps,
  query: ListDeadLettersQuery,
): Promise<Page<DeadLetterSummary>> {
  const page = await deps.deadLetters.listDeadLetters(query);
  return { items: page.items.map(summarizeDeadLetter), ...(page.cursor ? { cursor: page.cursor } : {}) };
}

/** @throws NotFoundError `DeadLetterNotFound` */
export async function requireDeadLetter(deps: OffpeakDeps, id: string): Promise<DeadLetter> {
  const record = await deps.deadLetters.getDeadLetter(id);
  if (!record) throw new NotFoundError('DeadLetterNotFound', `No dead letter with id ${id}`);
  return record;
}

/** @throws NotFoundError `DeadLetterNotFound` */
export async function deleteDeadLetter(deps: OffpeakDeps, id: string): Promise<void> {
  if (!(await deps.deadLetters.deleteDeadLetter(id))) {
    throw new NotFoundError('DeadLetterNotFound', `No dead letter with id ${id}`);
  }
  deps.log.info('Dead letter deleted', { deadLetterId: id });
}

/** Which dead letters to redrive: by id, or every open one matching a filter. */
export type RedriveSelection =
  | { readonly ids: readonly string[] }
  | {
      readonly kind?: DeadLetterKind;
      readonly type?: string;
      readonly from?: Date;
      readonly to?: Date;
      /** At most this many in one call; `more` says whether others match. */
      readonly limit: number;
    };

/** What one redrive call did, per dead letter. */
export interface RedriveResult {
  readonly redriven: {
    readonly id: string;
    readonly kind: DeadLetterKind;
    readonly jobId?: string;
    /** Job: the first attempt of the new series. */
    readonly attempt?: number;
    /** Message: the queue it went back to. */
    readonly queue?: RedriveTarget;
  }[];
  /** Dead letters left as they are, with the reason (e.g. a message nobody can take back). */
  readonly skipped: { readonly id: string; readonly error: string; readonly message: string }[];
  /** Transient failures: calling again retries them. */
  readonly failed: { readonly id: string; readonly error: string; readonly message: string }[];
  /** True when more open dead letters match the filter than this call took. */
  readonly more: boolean;
}

/**
 * Sends dead letters back: a job dead letter puts its job back in the queue for a new attempt series (same job,
 * history kept, the dead letter linked from the new series: see `retryJob`); a message dead letter re-sends the
 * original body to its queue, tagged with the message it descends from (so an intake message keeps its idempotency
 * key). Each redriven record is marked `redriven`. Safe to repeat: a redrive cut short by a crash is completed by
 * the next call, never doubled (the job's retry entry names the dead letter).
 *
 * @throws NotFoundError `DeadLetterNotFound` (ids not found), ConflictError `NotDeadLettered` (ids already
 *   redriven): checked for every id before anything is redriven.
 */
export async function redriveDeadLetters(
  deps: OffpeakDeps,
  selection: RedriveSelection,
  actor?: string,
): Promise<RedriveResult> {
  let records: DeadLetter[];
  let more = false;
  if ('ids' in selection) {
    const ids = [...new Set(selection.ids)];
    const found = await deps.deadLetters.getDeadLetters(ids);
    const missing = ids.filter((id) => !found.some((r) => r.id === id));
    if (missing.length > 0) {
      throw new NotFoundError('DeadLetterNotFound', `No dead letter with id ${missing.join(', ')}`, {
        details: { missing },
      });
    }
    const closed = found.filter((r) => r.status !== DeadLetterStatus.Open);
    if (closed.length > 0) {
      throw new ConflictError(
        'NotDeadLettered',
        `Not dead-lettered any more (already redriven): ${closed.map((r) => r.id).join(', ')}`,
        { details: { redriven: closed.map((r) => ({ id: r.id, redrive: r.redrive })) } },
      );
    }
    records = ids.map((id) => found.find((r) => r.id === id) as DeadLetter);
  } else {
    records = [];
    let cursor: string | undefined;
    do {
      const page = await deps.deadLetters.listDeadLetters({
        status: DeadLetterStatus.Open,
        ...(selection.kind ? { kind: selection.kind } : {}),
        ...(selection.type ? { type: selection.type } : {}),
        ...(selection.from ? { from: selection.from } : {}),
        ...(selection.to ? { to: selection.to } : {}),
        limit: Math.min(100, selection.limit - records.length + 1),
        ...(cursor ? { cursor } : {}),
      });
      records.push(...page.items);
      cursor = page.cursor;
    } while (cursor && records.length <= selection.limit);
    more = records.length > selection.limit;
    records = records.slice(0, selection.limit);
  }

  const result: {
    redriven: RedriveResult['redriven'][number][];
    skipped: RedriveResult['skipped'][number][];
    failed: RedriveResult['failed'][number][];
  } = { redriven: [], skipped: [], failed: [] };
  for (const record of records) {
    try {
      const outcome = await redriveOne(deps, record, actor);
      result.redriven.push(outcome);
    } catch (error) {
      const kind = errorKindOf(error);
      const entry = {
        id: record.id,
        error: serializeError(error).code ?? serializeError(error).name,
        message: serializeError(error).message,
      };
      if (kind === ErrorKind.Retryable) result.failed.push(entry);
      else result.skipped.push(entry);
      deps.log.warn('Dead letter not redriven', { deadLetterId: record.id, ...entry });
    }
  }
  return { ...result, more };
}

async function redriveOne(
  deps: OffpeakDeps,
  record: DeadLetter,
  actor: string | undefined,
): Promise<RedriveResult['redriven'][number]> {
  if (record.kind === 'job') {
    if (!record.jobId) throw new ValidationError('NotRedrivable', `Dead letter ${record.id} names no job`);
    const job = await retryJob(deps, record.jobId, {
      cause: 'redrive',
      deadLetterId: record.id,
      ...(actor ? { actor } : {}),
    });
    crashPoint(deps, CrashPoint.RedriveAfterRequeue);
    const attempt = (job.retries?.find((r) => r.deadLetterId === record.id)?.fromAttempt ?? job.attempt) + 1;
    await markRedriven(deps, record, { attempt, ...(actor ? { actor } : {}) });
    return { id: record.id, kind: 'job', jobId: job.id, attempt };
  }

  const message = record.message;
  const target = message?.redriveTo;
  if (!message || !target) {
    throw new ValidationError(
      'NotRedrivable',
      `Dead letter ${record.id} has no queue to go back to (a missed schedule tick is made up by the next one); delete it`,
    );
  }
  const queue = deps.sourceQueues?.[target];
  if (!queue) {
    throw new ValidationError('NotRedrivable', `The ${target} queue is not available to this function`);
  }
  const body = parseJson(message.body);
  if (body === undefined) {
    throw new ValidationError(
      'NotRedrivable',
      `Dead letter ${record.id}'s body is not JSON: no consumer can take it; delete it`,
    );
  }
  const origin = message.messageAttributes[REDRIVE_OF_ATTRIBUTE] ?? message.messageId;
  await queue.send(body, { attributes: { [REDRIVE_OF_ATTRIBUTE]: origin } });
  crashPoint(deps, CrashPoint.RedriveAfterRequeue);
  await markRedriven(deps, record, { queue: target, ...(actor ? { actor } : {}) });
  deps.log.info('Dead message redriven', { deadLetterId: record.id, queue: target, origin });
  return { id: record.id, kind: 'message', ...(record.jobId ? { jobId: record.jobId } : {}), queue: target };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
