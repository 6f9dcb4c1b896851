import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { OffpeakDeps } from '../../src/core/deps.js';
import { NotFoundError, ValidationError } from '../../src/core/errors.js';
import { isJobId } from '../../src/core/ids.js';
import type { Job, Trigger } from '../../src/core/job.js';
import { jobView } from '../../src/core/observability/job-view.js';
import { ListJobsRequestSchema } from '../../src/core/requests.js';
import { cancelJob } from '../../src/core/services/cancel.js';
import { holdJob, SubmitJobBodySchema } from '../../src/core/services/hold.js';
import { previewJob } from '../../src/core/services/preview.js';
import { submitJob } from '../../src/core/services/submit.js';
import { json, parseJsonBody, parseWith } from '../shared/http.js';
import type { Route } from './route.js';

/** Submit, read, list and cancel jobs. */
export const jobRoutes: readonly Route[] = [
  {
    method: 'POST',
    path: '/jobs',
    handle: async (event, deps) => {
      const { runAt, ...request } = parseJsonBody(event, SubmitJobBodySchema);
      // A dry run validates and plans without creating anything (issue 5).
      if (request.dryRun) return json(200, await previewJob(deps, request, apiTrigger(event)));
      if (runAt !== undefined) {
        // Held until runAt: 202 with the reserved job id (the job itself appears when its time comes).
        const outcome = await holdJob(deps, request, new Date(runAt), apiTrigger(event));
        if (outcome.held) {
          const { hold } = outcome;
          return json(
            202,
            {
              state: 'SCHEDULED',
              ...hold,
              job: `/jobs/${hold.jobId}`,
              schedule: `/schedules/${hold.scheduleId}`,
            },
            { location: `/schedules/${hold.scheduleId}` },
          );
        }
        const { job, created } = outcome;
        return json(created ? 201 : 200, job, created ? { location: `/jobs/${job.id}` } : {});
      }
      const { job, created } = await submitJob(deps, request, apiTrigger(event));
      return json(created ? 201 : 200, job, created ? { location: `/jobs/${job.id}` } : {});
    },
  },
  {
    method: 'GET',
    path: '/jobs',
    handle: async (event, deps) => {
      const query = parseWith(
        ListJobsRequestSchema,
        event.queryStringParameters ?? {},
        'InvalidQuery',
        'Query is invalid',
      );
      const page = await deps.store.listJobs(query);
      return json(200, { items: page.items, ...(page.cursor ? { cursor: page.cursor } : {}) });
    },
  },
  {
    method: 'GET',
    path: '/jobs/{id}',
    handle: async (event, deps) =>
      json(
        200,
        await jobView(await requireJob(deps, event.pathParameters?.id), {
          catalog: deps.catalog,
          ...(deps.logs ? { logs: deps.logs } : {}),
          now: deps.clock.now(),
        }),
      ),
  },
  {
    method: 'POST',
    path: '/jobs/{id}/cancel',
    handle: async (event, deps) => {
      const job = await requireJob(deps, event.pathParameters?.id);
      return json(200, await cancelJob(deps, job.id));
    },
  },
];

/** The job named by a path parameter. @throws ValidationError (not a job id), NotFoundError */
export async function requireJob(deps: OffpeakDeps, id: string | undefined): Promise<Job> {
  if (!id || !isJobId(id))
    throw new ValidationError('InvalidJobId', `"${id ?? ''}" is not a job id (a 26-character ULID)`);
  const job = await deps.store.getJob(id);
  if (!job) throw new NotFoundError('JobNotFound', `No job with id ${id}`);
  return job;
}

/** Where an API request came from: the route, and the IAM caller when API Gateway authorized one. */
export function apiTrigger(event: APIGatewayProxyEventV2): Trigger {
  const iam = (event.requestContext as { authorizer?: { iam?: { userArn?: string } } }).authorizer?.iam;
  return {
    kind: 'api',
    source: `${event.requestContext.http.method} ${event.rawPath}`,
    ...(iam?.userArn ? { actor: iam.userArn } : {}),
  };
}
