import type { OffpeakDeps } from '../deps.js';
import { ConcurrentUpdateError, ConflictError, NotFoundError } from '../errors.js';
import { newJobId } from '../ids.js';
import {
  type CreateScheduleRequest,
  declaredScheduleRecord,
  defaultCatchUp,
  type PatchScheduleRequest,
  ScheduleOrigin,
  type ScheduleRecord,
  type ScheduleView,
  scheduleView,
  validateSchedule,
} from '../triggers/schedule.js';
import { triggerDeps } from '../triggers/trigger-deps.js';

/**
 * Creates a schedule at run time: checked (expression, time zone, job type, params), stored, then registered with
 * EventBridge Scheduler (or the local scheduler). If registering fails the record is removed again, so a failed
 * create leaves nothing behind and can be retried.
 *
 * @throws ValidationError bad expression, time zone, job type or params; ConflictError `ScheduleExists`
 */
export async function createSchedule(
  deps: OffpeakDeps,
  request: CreateScheduleRequest,
  actor?: string,
): Promise<ScheduleView> {
  const { schedules, registry } = triggerDeps(deps);
  const now = deps.clock.now();
  const id = request.id ?? `sch-${newJobId(now)}`;
  if (declared(deps, id)) {
    throw new ConflictError('ScheduleExists', `Schedule "${id}" is declared in code; choose another id`);
  }
  const iso = now.toISOString();
  const record: ScheduleRecord = {
    id,
    origin: ScheduleOrigin.Api,
    jobType: request.jobType,
    expression: request.expression.trim(),
    timezone: request.timezone,
    params: request.params,
    ...(request.priority !== undefined ? { priority: request.priority } : {}),
    enabled: request.enabled,
    catchUp: request.catchUp ?? defaultCatchUp(request.expression),
    catchUpLimit: request.catchUpLimit,
    ...(request.description ? { description: request.description } : {}),
    ...(actor ? { createdBy: actor } : {}),
    createdAt: iso,
    updatedAt: iso,
    version: 0,
  };
  validateSchedule(deps.catalog, record, now);
  if (!(await schedules.createSchedule(record))) {
    throw new ConflictError('ScheduleExists', `A schedule with id "${id}" exists`);
  }
  try {
    await registry.put(record);
  } catch (error) {
    await schedules.deleteSchedule(id).catch((cleanup: unknown) =>
      deps.log.error('Could not remove a schedule whose registration failed', {
        scheduleId: id,
        error: String(cleanup),
      }),
    );
    throw error;
  }
  deps.log.info('Schedule created', {
    scheduleId: id,
    jobType: record.jobType,
    expression: record.expression,
  });
  return scheduleView(record, now);
}

/** Every schedule: the ones declared in code, then the stored ones, each by id. */
export async function listSchedules(deps: OffpeakDeps): Promise<ScheduleView[]> {
  const now = deps.clock.now();
  const declaredOnes = deps.catalog.triggers().schedules.map(declaredScheduleRecord);
  const stored = await triggerDeps(deps).schedules.listSchedules();
  const byId = (a: ScheduleRecord, b: ScheduleRecord) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  return [...declaredOnes.sort(byId), ...stored.sort(byId)].map((s) => scheduleView(s, now));
}

/** @throws NotFoundError `ScheduleNotFound` */
export async function getSchedule(deps: OffpeakDeps, id: string): Promise<ScheduleView> {
  return scheduleView(await requireSchedule(deps, id), deps.clock.now());
}

/**
 * Pauses, resumes or changes a stored schedule, then re-registers it. If registering fails, the previous definition
 * is put back (best effort) and the error is raised: retrying the same PATCH converges.
 *
 * @throws ConflictError `ScheduleManagedByConfig` (declared in code), `ScheduleHoldsJob` (a runAt hold: delete it
 *   instead), `ScheduleCompleted` (a one-time schedule that already ran), `ScheduleChanged` (a concurrent change)
 */
export async function updateSchedule(
  deps: OffpeakDeps,
  id: string,
  patch: PatchScheduleRequest,
): Promise<ScheduleView> {
  const { schedules, registry } = triggerDeps(deps);
  const current = await requireSchedule(deps, id);
  const now = deps.clock.now();
  if (current.origin === ScheduleOrigin.Config) {
    throw new ConflictError(
      'ScheduleManagedByConfig',
      `Schedule "${id}" is declared in code: change it there and deploy (or restart npm start)`,
    );
  }
  if (current.origin === ScheduleOrigin.RunAt) {
    throw new ConflictError(
      'ScheduleHoldsJob',
      `Schedule "${id}" holds job ${current.jobId} until its runAt; DELETE it to cancel that run`,
    );
  }
  if (scheduleView(current, now).state === 'COMPLETED') {
    throw new ConflictError('ScheduleCompleted', `One-time schedule "${id}" has already run`);
  }
  const next: ScheduleRecord = {
    ...current,
    ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)),
    ...(patch.expression ? { expression: patch.expression.trim() } : {}),
    updatedAt: now.toISOString(),
  };
  validateSchedule(deps.catalog, next, now);
  let stored: ScheduleRecord;
  try {
    stored = await schedules.updateSchedule(next, current.version);
  } catch (error) {
    if (error instanceof ConcurrentUpdateError) {
      throw new ConflictError('ScheduleChanged', `Schedule "${id}" changed meanwhile; read it and try again`);
    }
    throw error;
  }
  try {
    await registry.put(stored);
  } catch (error) {
    await schedules
      .updateSchedule({ ...current, updatedAt: now.toISOString() }, stored.version)
      .catch((revert: unknown) =>
        deps.log.error('Could not restore a schedule whose registration failed', {
          scheduleId: id,
          error: String(revert),
        }),
      );
    throw error;
  }
  deps.log.info('Schedule updated', { scheduleId: id, changed: Object.keys(patch) });
  return scheduleView(stored, now);
}

/** Deletes a stored schedule (timer first, then the record; a retry converges). A runAt hold's job never runs. */
export async function deleteSchedule(deps: OffpeakDeps, id: string): Promise<void> {
  const { schedules, registry } = triggerDeps(deps);
  const current = await requireSchedule(deps, id);
  if (current.origin === ScheduleOrigin.Config) {
    throw new ConflictError(
      'ScheduleManagedByConfig',
      `Schedule "${id}" is declared in code: remove it there and deploy (or restart npm start)`,
    );
  }
  await registry.delete(id);
  await schedules.deleteSchedule(id);
  await schedules.deleteCursor(id);
  deps.log.info('Schedule deleted', { scheduleId: id });
}

async function requireSchedule(deps: OffpeakDeps, id: string): Promise<ScheduleRecord> {
  const declaration = deps.catalog.triggers().schedules.find((s) => s.id === id);
  if (declaration) return declaredScheduleRecord(declaration);
  const stored = await triggerDeps(deps).schedules.getSchedule(id);
  if (!stored) throw new NotFoundError('ScheduleNotFound', `No schedule "${id}"`);
  return stored;
}

function declared(deps: OffpeakDeps, id: string): boolean {
  return deps.catalog.triggers().schedules.some((s) => s.id === id);
}
