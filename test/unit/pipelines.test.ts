import { beforeEach, describe, expect, it } from 'vitest';
import { defaultSettings } from '../../src/core/deps.js';
import { executorJobName } from '../../src/core/job-name.js';
import { CreatePipelineRequestSchema, type Pipeline } from '../../src/core/pipeline.js';
import { evaluateWaitingJob } from '../../src/core/services/dependencies.js';
import { dispatchAll } from '../../src/core/services/dispatch.js';
import { cancelPipeline, createPipeline, getPipelineView } from '../../src/core/services/pipelines.js';
import { reconcile } from '../../src/core/services/reconcile.js';
import { applyExecutorUpdate } from '../../src/core/services/track.js';
import type { TriggerRule } from '../../src/core/trigger-rule.js';
import type { ExecutorStatus } from '../../src/ports/executor.js';
import { type TestDeps, testDeps } from './support/fakes.js';
import { schedulingCatalog } from './support/scheduling-catalog.js';

const trigger = { kind: 'api', source: 'POST /pipelines' } as const;

function create(deps: TestDeps, body: unknown) {
  return createPipeline(deps, CreatePipelineRequestSchema.parse(body), trigger);
}

/** Step id → job id of a pipeline. */
function jobsOf(pipeline: Pipeline): Record<string, string> {
  return Object.fromEntries(pipeline.steps.map((s) => [s.id, s.jobId]));
}

async function stateOf(deps: TestDeps, jobId: string) {
  return (await deps.store.getJob(jobId))?.state;
}

/** Dispatches, then reports `status` for the step's job (which must have been released). */
async function finish(deps: TestDeps, jobId: string, status: ExecutorStatus) {
  await dispatchAll(deps);
  const job = await deps.store.getJob(jobId);
  if (!job?.executorJobId) throw new Error(`${jobId} was not released (${job?.state})`);
  await applyExecutorUpdate(deps, {
    executorJobId: job.executorJobId,
    jobName: executorJobName(job.type, job.id),
    status,
    exitCode: status === 'SUCCEEDED' ? 0 : 1,
  });
}

let deps: TestDeps;
beforeEach(() => {
  deps = testDeps({ catalog: schedulingCatalog(), settings: { ...defaultSettings, submitRate: undefined } });
});

const diamond = (rule: TriggerRule) => ({
  name: `diamond ${rule}`,
  steps: [
    { id: 'a', type: 'work' },
    { id: 'b', type: 'work', dependsOn: ['a'] },
    { id: 'c', type: 'work', dependsOn: ['a'] },
    { id: 'd', type: 'work', dependsOn: ['b', 'c'], triggerRule: rule },
  ],
});

describe('a diamond DAG (a → b, a → c, b + c → d) whose branch b fails, for every trigger rule of d', () => {
  it('all_success: d is skipped as soon as b fails, while c still runs', async () => {
    const { pipeline } = await create(deps, diamond('all_success'));
    const ids = jobsOf(pipeline);
    await finish(deps, ids.a as string, 'SUCCEEDED');
    await finish(deps, ids.b as string, 'FAILED');
    expect(await stateOf(deps, ids.c as string)).toBe('SUBMITTED');
    expect(await deps.store.getJob(ids.d as string)).toMatchObject({
      state: 'SKIPPED',
      statusReason: `a dependency did not succeed (all_success): ${ids.b} FAILED`,
    });
    await finish(deps, ids.c as string, 'SUCCEEDED');
    expect((await getPipelineView(deps, pipeline.id)).state).toBe('FAILED');
  });

  it('all_done: d runs once b and c both ended (continue on error)', async () => {
    const { pipeline } = await create(deps, diamond('all_done'));
    const ids = jobsOf(pipeline);
    await finish(deps, ids.a as string, 'SUCCEEDED');
    await finish(deps, ids.b as string, 'FAILED');
    expect(await stateOf(deps, ids.d as string)).toBe('WAITING');
    await finish(deps, ids.c as string, 'SUCCEEDED');
    expect(await stateOf(deps, ids.d as string)).toBe('QUEUED');
    await finish(deps, ids.d as string, 'SUCCEEDED');
    const view = await getPipelineView(deps, pipeline.id);
    expect(view.state).toBe('SUCCEEDED');
    expect(view.counts).toEqual({ SUCCEEDED: 3, FAILED: 1 });
  });

  it('one_success: d runs as soon as c succeeds, without waiting for b', async () => {
    const { pipeline } = await create(deps, diamond('one_success'));
    const ids = jobsOf(pipeline);
    await finish(deps, ids.a as string, 'SUCCEEDED');
    await finish(deps, ids.c as string, 'SUCCEEDED');
    expect(await stateOf(deps, ids.b as string)).toBe('SUBMITTED');
    expect(await stateOf(deps, ids.d as string)).toBe('QUEUED');
    await finish(deps, ids.b as string, 'FAILED');
    await finish(deps, ids.d as string, 'SUCCEEDED');
    expect((await getPipelineView(deps, pipeline.id)).state).toBe('SUCCEEDED');
  });

  it('one_success: d is skipped when b failed and c was skipped', async () => {
    const { pipeline } = await create(deps, {
      steps: [
        { id: 'a', type: 'work' },
        { id: 'b', type: 'work', dependsOn: ['a'] },
        { id: 'c', type: 'work', dependsOn: ['b'] },
        { id: 'd', type: 'work', dependsOn: ['b', 'c'], triggerRule: 'one_success' },
      ],
    });
    const ids = jobsOf(pipeline);
    await finish(deps, ids.a as string, 'SUCCEEDED');
    await finish(deps, ids.b as string, 'FAILED');
    expect(await stateOf(deps, ids.c as string)).toBe('SKIPPED');
    expect(await stateOf(deps, ids.d as string)).toBe('SKIPPED');
  });

  it('none_failed: d is skipped because b failed, but runs after a skipped branch', async () => {
    const { pipeline } = await create(deps, diamond('none_failed'));
    const ids = jobsOf(pipeline);
    await finish(deps, ids.a as string, 'SUCCEEDED');
    await finish(deps, ids.b as string, 'FAILED');
    expect(await stateOf(deps, ids.d as string)).toBe('SKIPPED');

    const { pipeline: second } = await create(deps, {
      steps: [
        { id: 'a', type: 'work' },
        { id: 'gate', type: 'work' },
        { id: 'b', type: 'work', dependsOn: ['gate'] },
        { id: 'c', type: 'work', dependsOn: ['a'] },
        { id: 'd', type: 'work', dependsOn: ['b', 'c'], triggerRule: 'none_failed' },
      ],
    });
    const next = jobsOf(second);
    await finish(deps, next.gate as string, 'FAILED'); // b is skipped (all_success), not failed
    await finish(deps, next.a as string, 'SUCCEEDED');
    await finish(deps, next.c as string, 'SUCCEEDED');
    expect(await stateOf(deps, next.b as string)).toBe('SKIPPED');
    expect(await stateOf(deps, next.d as string)).toBe('QUEUED');
  });
});

describe('POST /pipelines semantics', () => {
  it('creates every job at once: roots QUEUED, the rest WAITING on their upstream jobs', async () => {
    const { pipeline, created } = await create(deps, {
      name: 'etl',
      steps: [
        { id: 'extract', type: 'work', params: { n: 1 } },
        {
          id: 'transform',
          type: 'work',
          dependsOn: ['extract'],
          input: { fromStep: 'extract' },
          priority: 900,
        },
        { id: 'load', type: 'etl', dependsOn: ['transform'], params: { tenant: 'acme' } },
      ],
    });
    expect(created).toBe(true);
    expect(pipeline.created).toBe(true);
    const ids = jobsOf(pipeline);
    expect(await deps.store.getJob(ids.transform as string)).toMatchObject({
      state: 'WAITING',
      dependsOn: [ids.extract],
      pipelineId: pipeline.id,
      stepId: 'transform',
      inputFrom: ids.extract,
      priority: 900,
      trigger,
    });
    expect(await deps.store.getJob(ids.extract as string)).toMatchObject({
      state: 'QUEUED',
      params: { n: 1 },
    });
    expect(deps.dispatchQueue.messages.map((m) => m.body)).toEqual([{ kind: 'nudge', queue: 'main' }]);
    expect(await deps.store.dependentsOf(ids.extract as string)).toEqual([ids.transform]);

    // The transform step gets the extract step's output location as its input.
    await finish(deps, ids.extract as string, 'SUCCEEDED');
    expect((await deps.store.getJob(ids.transform as string))?.input?.uri).toBe(`outputs/${ids.extract}/`);
    await dispatchAll(deps);
    expect(deps.executor.submitted.at(-1)?.environment).toMatchObject({
      OFFPEAK_INPUT_URI: `outputs/${ids.extract}/`,
      OFFPEAK_OUTPUT_URI: `outputs/${ids.transform}/`,
    });
    const view = await getPipelineView(deps, pipeline.id);
    expect(view).toMatchObject({ id: pipeline.id, name: 'etl', state: 'RUNNING', cancelRequested: false });
    expect(view.steps.map((s) => [s.id, s.state, s.dependsOn])).toEqual([
      ['extract', 'SUCCEEDED', []],
      ['transform', 'SUBMITTED', ['extract']],
      ['load', 'WAITING', ['transform']],
    ]);
  });

  it('has no cap on dependencies: a step can wait for 60 others', async () => {
    const fan = Array.from({ length: 60 }, (_, i) => ({ id: `part-${i}`, type: 'work' }));
    const { pipeline } = await create(deps, {
      steps: [...fan, { id: 'merge', type: 'work', dependsOn: fan.map((s) => s.id) }],
    });
    await deps.scheduling.patchQueue('main', { concurrency: 100 });
    const ids = jobsOf(pipeline);
    for (const step of fan.slice(0, 59)) await finish(deps, ids[step.id] as string, 'SUCCEEDED');
    expect(await stateOf(deps, ids.merge as string)).toBe('WAITING');
    await finish(deps, ids['part-59'] as string, 'SUCCEEDED');
    expect(await stateOf(deps, ids.merge as string)).toBe('QUEUED');
  });

  it('returns the same pipeline for a repeated idempotency key, and refuses one reused for other steps', async () => {
    const body = { idempotencyKey: 'nightly-2026-11-23', steps: [{ id: 'a', type: 'work' }] };
    const first = await create(deps, body);
    const again = await create(deps, body);
    expect(again).toEqual({ pipeline: first.pipeline, created: false });
    await expect(create(deps, { ...body, steps: [{ id: 'b', type: 'work' }] })).rejects.toMatchObject({
      code: 'IdempotencyKeyReused',
      details: { pipelineId: first.pipeline.id },
    });
    expect(deps.scheduling.pipelines.size).toBe(1);
  });

  it.each([
    [
      [
        { id: 'a', type: 'work', dependsOn: ['c'] },
        { id: 'b', type: 'work', dependsOn: ['a'] },
        { id: 'c', type: 'work', dependsOn: ['b'] },
      ],
      'DependencyCycle',
      ['a', 'c', 'b'],
    ],
    [
      [{ id: 'a', type: 'work', dependsOn: ['ghost', 'phantom'] }],
      'UnknownStepReference',
      ['ghost', 'phantom'],
    ],
    [
      [
        { id: 'a', type: 'work' },
        { id: 'a', type: 'work' },
      ],
      'DuplicateStepId',
      ['a'],
    ],
    [
      [
        { id: 'a', type: 'work' },
        { id: 'b', type: 'work', input: { fromStep: 'a' } },
      ],
      'InputNotUpstream',
      ['b'],
    ],
  ])('refuses %j with %s naming %j, and stores nothing', async (steps, code, named) => {
    const error = await create(deps, { steps }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code, details: { issues: [expect.objectContaining({ code })] } });
    expect((error as { details: { issues: Array<{ steps: string[] }> } }).details.issues[0]?.steps).toEqual(
      named,
    );
    for (const id of named) expect((error as Error).message).toContain(id);
    expect(deps.scheduling.pipelines.size).toBe(0);
    expect(deps.store.jobs.size).toBe(0);
  });

  it('names each step with an unknown job type or invalid params', async () => {
    await expect(
      create(deps, {
        steps: [
          { id: 'ok', type: 'work' },
          { id: 'typo', type: 'wrok' },
          { id: 'bad', type: 'work', params: { n: 'seven' } },
        ],
      }),
    ).rejects.toMatchObject({
      code: 'InvalidPipelineSteps',
      details: {
        steps: [
          expect.objectContaining({ step: 'typo', code: 'UnknownJobType' }),
          expect.objectContaining({ step: 'bad', code: 'InvalidParams' }),
        ],
      },
    });
    expect(deps.store.jobs.size).toBe(0);
  });

  it('finishes a creation a crash cut short, without skipping steps whose upstream jobs do not exist yet', async () => {
    const { pipeline } = await create(deps, diamond('all_success'));
    // Rebuild the state a crash leaves: the pipeline item and a dependent job, nothing else.
    const ids = jobsOf(pipeline);
    const d = await deps.store.getJob(ids.d as string);
    deps.store.jobs.clear();
    deps.store.edges.clear();
    await deps.store.createJob(d!);
    deps.scheduling.pipelines.set(pipeline.id, { ...pipeline, created: false });

    expect(await evaluateWaitingJob(deps, ids.d as string)).toMatchObject({ state: 'WAITING' });
    expect((await getPipelineView(deps, pipeline.id)).state).toBe('CREATING');
    deps.clock.advance(61_000);
    expect((await reconcile(deps)).pipelinesCompleted).toBe(1);
    expect(await stateOf(deps, ids.a as string)).toBe('QUEUED');
    expect(await stateOf(deps, ids.d as string)).toBe('WAITING');
    expect((await getPipelineView(deps, pipeline.id)).state).toBe('RUNNING');
    expect((await reconcile(deps)).pipelinesCompleted).toBe(0);
  });
});

describe('POST /pipelines/{id}/cancel', () => {
  it('cancels what has not finished, downstream first, so no continue-on-error step starts', async () => {
    const { pipeline } = await create(deps, {
      steps: [
        { id: 'extract', type: 'work' },
        { id: 'transform', type: 'work', dependsOn: ['extract'] },
        { id: 'report', type: 'work', dependsOn: ['transform'], triggerRule: 'all_done' },
        { id: 'side', type: 'work' },
      ],
    });
    const ids = jobsOf(pipeline);
    await finish(deps, ids.side as string, 'SUCCEEDED');
    await dispatchAll(deps);
    const view = await cancelPipeline(deps, pipeline.id);
    expect(view).toMatchObject({ state: 'CANCELLED', cancelRequested: true });
    expect(view.steps.map((s) => [s.id, s.state])).toEqual([
      ['extract', 'CANCELLED'],
      ['transform', 'CANCELLED'],
      ['report', 'CANCELLED'],
      ['side', 'SUCCEEDED'],
    ]);
    expect(deps.executor.terminated).toHaveLength(1);
    // Nothing was released after the cancel: only extract and side ever reached the executor.
    await dispatchAll(deps);
    expect(deps.executor.submitted.map((r) => r.jobId).sort()).toEqual([ids.extract, ids.side].sort());
    expect((await deps.store.slotUsage('queue#main')).used).toBe(0);
    await expect(cancelPipeline(deps, pipeline.id)).rejects.toMatchObject({ code: 'PipelineFinished' });
  });

  it('answers 404 for an unknown pipeline', async () => {
    await expect(getPipelineView(deps, '01KAQZ0000000000000000000A')).rejects.toMatchObject({
      code: 'PipelineNotFound',
    });
    await expect(cancelPipeline(deps, '01KAQZ0000000000000000000A')).rejects.toMatchObject({
      code: 'PipelineNotFound',
    });
  });
});
