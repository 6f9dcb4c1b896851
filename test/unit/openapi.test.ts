import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { apiRoutes } from '../../lambdas/api.js';
import { jobStates } from '../../src/core/job-state.js';

const spec = parse(readFileSync(new URL('../../docs/openapi.yaml', import.meta.url), 'utf8')) as {
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: { JobState: { enum: string[] } } };
};

describe('docs/openapi.yaml', () => {
  it('describes exactly the routes the API handler serves', () => {
    const documented = Object.entries(spec.paths)
      .flatMap(([path, ops]) =>
        Object.keys(ops)
          .filter((k) => k !== 'parameters')
          .map((m) => `${m.toUpperCase()} ${path}`),
      )
      .sort();
    const served = apiRoutes.map((r) => `${r.method} ${r.path}`).sort();
    expect(documented).toEqual(served);
  });

  it('lists every job state', () => {
    expect([...spec.components.schemas.JobState.enum].sort()).toEqual([...jobStates].sort());
  });
});
