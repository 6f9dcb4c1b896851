import { z } from 'zod';
import type { OffpeakDeps } from '../deps.js';
import { ValidationError } from '../errors.js';
import { derivedIdempotencyKey, scopedIdempotencyKey } from '../idempotency.js';
import { newJobId } from '../ids.js';
import type { Job, Trigger } from '../job.js';
import { type SubmitRequest, SubmitRequestSchema } from '../requests.js';
import { CatchUpPolicy } from '../triggers/catch-up.js';
import {
  PAST_GRACE_MS,
  ScheduleOrigin,
  type ScheduleRecord,
  validateSchedule,
} from '../triggers/schedule.js';
import { atExpression, scheduledTimeText } from '../triggers/schedule-expression.js';
import { triggerDeps } from '../triggers/trigger-deps.js';
import { submitJob } from './submit.js';

/** A job held until its `runAt`: its id is fixed now; the job itself appears when the one-time schedule fires. */
export interface HeldJob {
  readonly jobId: string;
  readonly scheduleId: string;
  /** When it will be submitted (whole seconds). */
  readonly runAt: string;
}

export type HoldOutcome =
  | { readonly held: true; readonly hold: HeldJob; readonly created: boolean }
  | { readonly held: false; readonly job: Job; readonly created: boolean };

/**
 * `POST /jobs` with `runAt`: checks the request now (type, params, dependencies), reserves the job id under the
 * request's idempotency key (or one derived from the id), and creates a one-time schedule (`at(…)`, deleted after it
 * fires on AWS) whose message submits the job with that key, so the job gets the reserved id. A `runAt` no later
 * than now submits at once; one more than {@link PAST_GRACE_MS} in the past is refused.
 *
 * @throws ValidationError `RunAtInPast`, and everything submit checks
 */
export async function holdJob(
  deps: OffpeakDeps,
  request: SubmitRequest,
  runAt: Date,
  trigger: Trigger,
): Promise<HoldOutcome> {
  const now = deps.clock.now();
  if (runAt.getTime() < now.getTime() - PAST_GRACE_MS) {
    throw new ValidationError(
      'RunAtInPast',
      `runAt ${runAt.toISOString()} is more than ${PAST_GRACE_MS / 1000} s in the past`,
      { details: { runAt: runAt.toISOString(), now: now.toISOString() } },
    );
  }
  const scheduledTime = scheduledTimeText(runAt);
  if (runAt.getTime() <= now.getTime()) {
    const result = await submitJob(deps, request, { ...trigger, scheduledTime });
    return { held: false, ...result };
  }

  const { schedules, registry } = triggerDeps(deps);
  const type = deps.catalog.jobType(request.type);
  deps.catalog.validateParams(type.name, request.params);
  const dependsOn = [...new Set(request.dependsOn)];
  if (dependsOn.length > 0) {
    const found = new Set((await deps.store.getJobs(dependsOn)).map((j) => j.id));
    const missing = dependsOn.filter((id) => !found.has(id));
    if (missing.length > 0) {
      throw new ValidationError('UnknownDependencies', `Unknown dependencies: ${missing.join(', ')}`, {
        details: { missing },
      });
    }
  }

  let jobId = newJobId(runAt);
  const key = request.idempotencyKey ?? derivedIdempotencyKey('run-at', jobId);
  const scoped = scopedIdempotencyKey(type.name, key);
  const retentionMs = deps.settings.idempotencyRetentionHours * 3_600_000;
  const claim = await deps.store.claimIdempotencyKey(scoped, jobId, new Date(runAt.getTime() + retentionMs));
  if (!claim.claimed) {
    const existing = await deps.store.getJob(claim.jobId);
    // The same request again after its run: the job it made.
    if (existing) return { held: false, job: existing, created: false };
    jobId = claim.jobId;
  }

  const iso = now.toISOString();
  const record: ScheduleRecord = {
    id: `run-${jobId}`,
    origin: ScheduleOrigin.RunAt,
    jobType: type.name,
    expression: atExpression(runAt),
    timezone: 'UTC',
    params: request.params,
    ...(request.priority !== undefined ? { priority: request.priority } : {}),
    ...(request.input ? { input: request.input } : {}),
    dependsOn,
    idempotencyKey: key,
    jobId,
    enabled: true,
    // Its only run must happen, late if the local service was down at the time.
    catchUp: CatchUpPolicy.Latest,
    catchUpLimit: 1,
    ...(trigger.actor ? { createdBy: trigger.actor } : {}),
    createdAt: iso,
    updatedAt: iso,
    version: 0,
  };
  validateSchedule(deps.catalog, record, now);
  const created = await schedules.createSchedule(record);
  try {
    // Also on a retry of the same request (record already there): registering is idempotent.
    await registry.put(created ? record : ((await schedules.getSchedule(record.id)) ?? record));
  } catch (error) {
    if (created) {
      await schedules.deleteSchedule(record.id).catch(() => undefined);
      await deps.store.releaseIdempotencyKey(scoped).catch(() => undefined);
    }
    throw error;
  }
  deps.log.info('Job held until runAt', { jobId, scheduleId: record.id, runAt: scheduledTime });
  return {
    held: true,
    created,
    hold: {
      jobId,
      scheduleId: record.id,
      runAt: scheduledTimeText(new Date(Math.ceil(runAt.getTime() / 1000) * 1000)),
    },
  };
}

/** Body of `POST /jobs`: a submit request, optionally held until `runAt` (ISO 8601 with a zone or offset). */
export const SubmitJobBodySchema = SubmitRequestSchema.extend({
  runAt: z.iso.datetime({ offset: true }).optional(),
}).strict();
