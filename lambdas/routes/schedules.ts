import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { ValidationError } from '../../src/core/errors.js';
import {
  createSchedule,
  deleteSchedule,
  getSchedule,
  listSchedules,
  updateSchedule,
} from '../../src/core/services/schedules.js';
import { CreateScheduleRequestSchema, PatchScheduleRequestSchema } from '../../src/core/triggers/schedule.js';
import { TriggerIdSchema } from '../../src/core/triggers/trigger-config.js';
import { json, parseJsonBody } from '../shared/http.js';
import { apiTrigger } from './jobs.js';
import type { Route } from './route.js';

/** Schedules: the ones declared in code (read-only here) and the ones created at run time. */
export const scheduleRoutes: readonly Route[] = [
  {
    method: 'POST',
    path: '/schedules',
    handle: async (event, deps) => {
      const request = parseJsonBody(event, CreateScheduleRequestSchema);
      const schedule = await createSchedule(deps, request, apiTrigger(event).actor);
      return json(201, schedule, { location: `/schedules/${schedule.id}` });
    },
  },
  {
    method: 'GET',
    path: '/schedules',
    handle: async (_event, deps) => json(200, { items: await listSchedules(deps) }),
  },
  {
    method: 'GET',
    path: '/schedules/{id}',
    handle: async (event, deps) => json(200, await getSchedule(deps, scheduleId(event))),
  },
  {
    method: 'PATCH',
    path: '/schedules/{id}',
    handle: async (event, deps) => {
      const id = scheduleId(event);
      return json(200, await updateSchedule(deps, id, parseJsonBody(event, PatchScheduleRequestSchema)));
    },
  },
  {
    method: 'DELETE',
    path: '/schedules/{id}',
    handle: async (event, deps) => {
      await deleteSchedule(deps, scheduleId(event));
      return { statusCode: 204, headers: { 'cache-control': 'no-store' } };
    },
  },
];

function scheduleId(event: APIGatewayProxyEventV2): string {
  const id = event.pathParameters?.id ?? '';
  if (!TriggerIdSchema.safeParse(id).success) {
    throw new ValidationError('InvalidScheduleId', `"${id}" is not a schedule id`);
  }
  return id;
}
