import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildCatalogData } from '../../src/core/catalog.js';
import { defineJobType } from '../../src/core/job-type.js';
import { localLogFile } from '../../src/local/local-executor.js';
import { type LocalService, startLocalService } from '../../src/local/service.js';

/** The ETL example of docs/scheduling.md, with local commands. */
const sh = (script: string) => ['sh', '-c', script];
const etlCatalog = buildCatalogData({
  queues: [
    { name: 'etl', batchPriority: 200, concurrency: 4 },
    { name: 'adhoc', batchPriority: 100, concurrency: 2 },
  ],
  resources: [{ name: 'warehouse-db', limit: 1 }],
  jobTypes: [
    defineJobType({
      name: 'extract',
      image: 'busybox',
      command: ['true'],
      localCommand: sh('echo "extracting $OFFPEAK_PARAM_SOURCE to $OFFPEAK_OUTPUT_URI"'),
      queue: 'etl',
      params: z.object({ source: z.string() }),
    }),
    defineJobType({
      name: 'transform',
      image: 'busybox',
      command: ['true'],
      localCommand: sh('echo "transforming $OFFPEAK_INPUT_URI"'),
      queue: 'etl',
    }),
    defineJobType({
      name: 'quality-check',
      image: 'busybox',
      command: ['true'],
      localCommand: sh('echo "3 rows without a customer id" >&2; exit 1'),
      queue: 'etl',
      retry: { attempts: 1 },
    }),
    defineJobType({
      name: 'load',
      image: 'busybox',
      command: ['true'],
      localCommand: sh('echo "loading $OFFPEAK_INPUT_URI for $OFFPEAK_PARAM_TENANT"; sleep 0.2'),
      queue: 'etl',
      resources: { 'warehouse-db': 1 },
      concurrencyKey: { key: 'params.tenant', limit: 1 },
      params: z.object({ tenant: z.string() }),
    }),
    defineJobType({
      name: 'ping',
      image: 'busybox',
      command: ['true'],
      localCommand: sh('echo pong'),
      queue: 'adhoc',
    }),
  ],
});

let service: LocalService;
let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'offpeak-e2e-scheduling-'));
  service = await startLocalService({
    catalogData: etlCatalog,
    dataDir: join(workDir, 'data'),
    slots: 2,
    dispatchIntervalMs: 500,
    reconcileIntervalMs: 60_000,
  });
});

afterAll(async () => {
  await service?.stop();
  await rm(workDir, { recursive: true, force: true });
});

async function api(method: string, path: string, body?: unknown) {
  const response = await fetch(`${service.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  // biome-ignore lint/suspicious/noExplicitAny: response JSON is navigated freely in assertions
  return { status: response.status, body: (await response.json()) as any };
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('scheduling on the local service', () => {
  it('runs the ETL pipeline of the docs: a failed quality check does not stop the load (all_done)', async () => {
    const created = await api('POST', '/pipelines', {
      name: 'nightly-etl',
      steps: [
        { id: 'extract', type: 'extract', params: { source: 'orders' } },
        { id: 'transform', type: 'transform', dependsOn: ['extract'], input: { fromStep: 'extract' } },
        { id: 'quality', type: 'quality-check', dependsOn: ['transform'] },
        {
          id: 'load',
          type: 'load',
          params: { tenant: 'acme' },
          dependsOn: ['transform', 'quality'],
          triggerRule: 'all_done',
          input: { fromStep: 'transform' },
        },
      ],
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const finished = await until(
      () => api('GET', `/pipelines/${id}`),
      (r) => !['CREATING', 'RUNNING'].includes(r.body.state),
    );
    expect(finished.body.state).toBe('SUCCEEDED');
    const steps = Object.fromEntries(
      (finished.body.steps as Array<{ id: string; state: string; jobId: string; inputUri?: string }>).map(
        (s) => [s.id, s],
      ),
    );
    expect(Object.fromEntries(Object.entries(steps).map(([k, s]) => [k, s.state]))).toEqual({
      extract: 'SUCCEEDED',
      transform: 'SUCCEEDED',
      quality: 'FAILED',
      load: 'SUCCEEDED',
    });
    const bucket = service.resources.bucketName;
    expect(steps.load?.inputUri).toBe(`s3://${bucket}/outputs/${steps.transform?.jobId}/`);
    const load = (await api('GET', `/jobs/${steps.load?.jobId}`)).body;
    const log = await readFile(localLogFile(service.dataDir, load.id, load.executorJobId), 'utf8');
    expect(log).toContain(`loading s3://${bucket}/outputs/${steps.transform?.jobId}/ for acme`);
    // Everything the pipeline's jobs held is back.
    const queues = (await api('GET', '/queues')).body.items;
    expect(queues.find((q: { name: string }) => q.name === 'etl').concurrency.used).toBe(0);
    expect((await api('GET', '/resources')).body.items[0]).toMatchObject({ name: 'warehouse-db', used: 0 });
  });

  it('holds a paused queue, shows what waits, and runs it all on resume within the limits', async () => {
    expect((await api('PATCH', '/queues/adhoc', { paused: true })).body).toMatchObject({ paused: true });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await api('POST', '/jobs', { type: 'ping' })).body.id);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const waiting = (await api('GET', '/queues')).body.items.find(
      (q: { name: string }) => q.name === 'adhoc',
    );
    expect(waiting).toMatchObject({ paused: true, queued: 3, concurrency: { used: 0, limit: 2 } });

    await api('PATCH', '/queues/adhoc', { paused: false });
    const states = await until(
      () => Promise.all(ids.map(async (id) => (await api('GET', `/jobs/${id}`)).body.state as string)),
      (s) => s.every((state) => state === 'SUCCEEDED'),
    );
    expect(states).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
  });

  it('serializes loads that share the warehouse-db resource', async () => {
    const created = await Promise.all(
      ['acme', 'zen', 'ops'].map((tenant) => api('POST', '/jobs', { type: 'load', params: { tenant } })),
    );
    const ids = created.map((r) => r.body.id as string);
    const jobs = await until(
      () => Promise.all(ids.map(async (id) => (await api('GET', `/jobs/${id}`)).body)),
      (js) => js.every((j) => j.state === 'SUCCEEDED'),
    );
    // One unit of warehouse-db: each load started after the previous one ended.
    const runs = jobs
      .map((j) => ({ start: Date.parse(j.attempts[0].startedAt), stop: Date.parse(j.attempts[0].stoppedAt) }))
      .sort((a, b) => a.start - b.start);
    for (let i = 1; i < runs.length; i++) expect(runs[i]!.start).toBeGreaterThanOrEqual(runs[i - 1]!.stop);
    expect(await api('PATCH', '/resources/nope', { limit: 1 })).toMatchObject({
      status: 404,
      body: { error: 'UnknownResource' },
    });
  });
});
