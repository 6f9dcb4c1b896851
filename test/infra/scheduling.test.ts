import { App, Stack } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { exampleJobTypes } from '../../config/job-types.js';
import { Offpeak } from '../../lib/offpeak.js';
import { ValidationError } from '../../src/core/errors.js';
import { defineJobType } from '../../src/core/job-type.js';
import { defaultQueues } from '../../src/core/queue-spec.js';
import { resourcesOf, synthOffpeak } from './synth.js';

const etl = defineJobType({
  name: 'etl-load',
  image: 'busybox',
  command: ['true'],
  queue: 'low',
  concurrency: 2,
  resources: { 'warehouse-db': 1 },
});

/** The ready app's stack with stuck-queue settings on `low` and a shared resource. */
const custom = synthOffpeak({
  props: () => ({
    jobTypes: [...exampleJobTypes, etl],
    queues: defaultQueues.map((q) =>
      q.name === 'low' ? { ...q, maxRunnableSeconds: 900, onStuck: 'fail' } : q,
    ),
    resources: [{ name: 'warehouse-db', limit: 1, rate: { limit: 10, periodSeconds: 60 } }],
  }),
});

function timeLimitActions(synth: ReturnType<typeof synthOffpeak>, queue: string) {
  const id = synth.stack.getLogicalId(synth.offpeak.jobQueues[queue]!.node.defaultChild as never);
  return synth.template.toJSON().Resources[id].Properties.JobStateTimeLimitActions as unknown[];
}

describe('stuck-job protection on the Batch job queues', () => {
  it('cancels jobs no compute environment can run after 30 minutes by default, on every queue', () => {
    const synth = synthOffpeak();
    for (const queue of ['high', 'normal', 'low']) {
      expect(timeLimitActions(synth, queue)).toEqual([
        {
          Action: 'CANCEL',
          MaxTimeSeconds: 1800,
          Reason: 'MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE',
          State: 'RUNNABLE',
        },
        {
          Action: 'CANCEL',
          MaxTimeSeconds: 1800,
          Reason: 'MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT',
          State: 'RUNNABLE',
        },
      ]);
    }
  });

  it("uses a queue's maxRunnableSeconds, and then also cancels jobs blocked on capacity", () => {
    expect(timeLimitActions(custom, 'low')).toEqual([
      {
        Action: 'CANCEL',
        MaxTimeSeconds: 900,
        Reason: 'MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE',
        State: 'RUNNABLE',
      },
      {
        Action: 'CANCEL',
        MaxTimeSeconds: 900,
        Reason: 'MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT',
        State: 'RUNNABLE',
      },
      {
        Action: 'CANCEL',
        MaxTimeSeconds: 900,
        Reason: 'CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY',
        State: 'RUNNABLE',
      },
    ]);
    expect(timeLimitActions(custom, 'high')).toHaveLength(2);
  });

  it('lets the reconciler terminate Batch jobs (stuck RUNNABLE) but only the dispatcher submit them', () => {
    const actionsOf = (fn: 'reconciler' | 'dispatcher' | 'tracker') => {
      const roleId = custom.stack.getLogicalId(custom.offpeak.functions[fn].role.node.defaultChild as never);
      return resourcesOf(custom.template, 'AWS::IAM::Policy')
        .filter(([, p]) => (p.Properties.Roles as unknown[]).some((r) => JSON.stringify(r).includes(roleId)))
        .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as { Action: string | string[] }[])
        .flatMap((s) => ([] as string[]).concat(s.Action));
    };
    expect(actionsOf('reconciler')).toEqual(
      expect.arrayContaining(['batch:TerminateJob', 'batch:DescribeJobs']),
    );
    expect(actionsOf('reconciler')).not.toContain('batch:SubmitJob');
    expect(actionsOf('dispatcher')).toContain('batch:SubmitJob');
    expect(actionsOf('tracker')).not.toContain('batch:TerminateJob');
  });
});

describe('limits in the deployed catalog', () => {
  it('carries resources, job type limits and queue settings to the Lambdas', () => {
    expect(custom.offpeak.catalog.resources).toEqual([
      { name: 'warehouse-db', description: '', limit: 1, rate: { limit: 10, periodSeconds: 60, burst: 1 } },
    ]);
    expect(custom.offpeak.catalog.jobTypes.find((t) => t.name === 'etl-load')).toMatchObject({
      concurrency: 2,
      resources: { 'warehouse-db': 1 },
    });
    expect(custom.offpeak.catalog.queues.find((q) => q.name === 'low')).toMatchObject({
      maxRunnableSeconds: 900,
      onStuck: 'fail',
    });
  });

  it('reports limits problems with the other props problems', () => {
    let error: unknown;
    try {
      new Offpeak(new Stack(new App(), 'Invalid'), 'Batch', {
        jobTypes: [
          defineJobType({ name: 'x', image: 'busybox', command: ['true'], resources: { ghost: 1 } }),
        ],
        queues: defaultQueues.map((q) => (q.name === 'normal' ? { ...q, maxRunnableSeconds: 60 } : q)),
        resources: [{ name: 'db', limit: -1 }],
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          path: 'queues[1]',
          message: expect.stringContaining('maxRunnableSeconds'),
        }),
        expect.objectContaining({ path: 'resources[0]' }),
        expect.objectContaining({ path: 'jobTypes.x.resources.ghost', message: 'unknown resource "ghost"' }),
      ]),
    );
  });
});
