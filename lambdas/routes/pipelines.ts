import { ValidationError } from '../../src/core/errors.js';
import { isJobId } from '../../src/core/ids.js';
import { CreatePipelineRequestSchema } from '../../src/core/pipeline.js';
import {
  cancelPipeline,
  createPipeline,
  getPipelineView,
  viewOf,
} from '../../src/core/services/pipelines.js';
import { json, parseJsonBody } from '../shared/http.js';
import { apiTrigger } from './jobs.js';
import type { Route } from './route.js';

/** DAG pipelines: create (all jobs at once), read the graph with states, cancel what has not finished. */
export const pipelineRoutes: readonly Route[] = [
  {
    method: 'POST',
    path: '/pipelines',
    handle: async (event, deps) => {
      const request = parseJsonBody(event, CreatePipelineRequestSchema);
      const { pipeline, created } = await createPipeline(deps, request, apiTrigger(event));
      const view = viewOf(pipeline, await deps.store.getJobs(pipeline.steps.map((s) => s.jobId)));
      return json(created ? 201 : 200, view, created ? { location: `/pipelines/${pipeline.id}` } : {});
    },
  },
  {
    method: 'GET',
    path: '/pipelines/{id}',
    handle: async (event, deps) =>
      json(200, await getPipelineView(deps, pipelineId(event.pathParameters?.id))),
  },
  {
    method: 'POST',
    path: '/pipelines/{id}/cancel',
    handle: async (event, deps) =>
      json(200, await cancelPipeline(deps, pipelineId(event.pathParameters?.id))),
  },
];

function pipelineId(id: string | undefined): string {
  if (!id || !isJobId(id))
    throw new ValidationError(
      'InvalidPipelineId',
      `"${id ?? ''}" is not a pipeline id (a 26-character ULID)`,
    );
  return id;
}
