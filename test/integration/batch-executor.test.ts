import {
  BatchClient,
  ClientException,
  DescribeJobsCommand,
  type JobDetail,
  ListJobsCommand,
  SubmitJobCommand,
  TerminateJobCommand,
} from '@aws-sdk/client-batch';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { BatchExecutor, toExecutorJob } from '../../src/aws/batch-executor.js';
import { buildCatalogData, Catalog } from '../../src/core/catalog.js';
import { executorJobName } from '../../src/core/job-name.js';
import type { ExecutionRequest } from '../../src/ports/executor.js';

const batch = mockClient(BatchClient);
const catalog = new Catalog(
  buildCatalogData({
    jobTypes: [
      { name: 'report', image: 'example.com/report:1', command: ['node', 'report.js'], queue: 'high' },
    ],
  }),
);
const jobQueues = {
  high: 'arn:aws:batch:eu-west-1:1:job-queue/offpeak-high',
  normal: 'arn:jq/normal',
  low: 'arn:jq/low',
};
const jobDefinitions = { report: 'arn:aws:batch:eu-west-1:1:job-definition/offpeak-report:7' };
const jobId = '01JZ0000000000000000000000';

function executor() {
  return new BatchExecutor({
    client: new BatchClient({ region: 'eu-west-1' }),
    catalog,
    jobQueues,
    jobDefinitions,
  });
}

function request(overrides: Partial<ExecutionRequest> = {}): ExecutionRequest {
  return {
    jobId,
    jobName: executorJobName('report', jobId),
    jobType: 'report',
    queue: 'high',
    attempt: 2,
    environment: { OFFPEAK_PARAMS: '{"day":"2025-06-15"}', OFFPEAK_JOB_ID: 'spoofed' },
    timeoutSeconds: 900,
    tags: { team: 'data' },
    ...overrides,
  };
}

function detail(overrides: Partial<JobDetail>): JobDetail {
  return {
    jobId: 'batch-1',
    jobName: executorJobName('report', jobId),
    jobQueue: jobQueues.high,
    jobDefinition: jobDefinitions.report,
    status: 'RUNNING',
    startedAt: 1_750_000_000_000,
    ...overrides,
  } as JobDetail;
}

beforeEach(() => {
  batch.reset();
});

describe('BatchExecutor.submit', () => {
  it('submits to the mapped queue and definition with overrides, timeout and tags', async () => {
    batch.on(SubmitJobCommand).resolves({ jobId: 'batch-1', jobName: 'x', jobArn: 'arn:job/batch-1' });

    const handle = await executor().submit(request());

    expect(handle).toEqual({
      executorJobId: 'batch-1',
      jobDefinition: jobDefinitions.report,
      image: 'example.com/report:1',
      command: ['node', 'report.js'],
    });
    const calls = batch.commandCalls(SubmitJobCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]!.args[0].input;
    expect(input).toEqual({
      jobName: `offpeak-report-${jobId}`,
      jobQueue: jobQueues.high,
      jobDefinition: jobDefinitions.report,
      containerOverrides: {
        environment: expect.arrayContaining([
          { name: 'OFFPEAK_PARAMS', value: '{"day":"2025-06-15"}' },
          { name: 'OFFPEAK_JOB_ID', value: jobId },
          { name: 'OFFPEAK_ATTEMPT', value: '2' },
        ]),
      },
      timeout: { attemptDurationSeconds: 900 },
      tags: { team: 'data', 'offpeak:jobId': jobId },
      propagateTags: true,
    });
    expect(input.containerOverrides?.environment).toHaveLength(3);
    expect(input.jobName).toContain(jobId);
    expect(input).not.toHaveProperty('retryStrategy');
    expect(input).not.toHaveProperty('arrayProperties');
  });

  it('submits an array job when there are two or more chunks', async () => {
    batch.on(SubmitJobCommand).resolves({ jobId: 'batch-2', jobName: 'x', jobArn: 'arn' });

    await executor().submit(request({ arraySize: 250 }));
    await executor().submit(request({ arraySize: 1 }));

    const [arrayCall, singleCall] = batch.commandCalls(SubmitJobCommand);
    expect(arrayCall?.args[0].input.arrayProperties).toEqual({ size: 250 });
    expect(singleCall?.args[0].input.arrayProperties).toBeUndefined();
  });

  it('refuses queues and job types it has no Batch resources for, without calling Batch', async () => {
    await expect(executor().submit(request({ queue: 'nightly' }))).rejects.toMatchObject({
      code: 'UnknownJobQueue',
    });
    await expect(
      new BatchExecutor({ client: new BatchClient({}), catalog, jobQueues, jobDefinitions: {} }).submit(
        request(),
      ),
    ).rejects.toMatchObject({ code: 'UnknownJobDefinition' });
    expect(batch.commandCalls(SubmitJobCommand)).toHaveLength(0);
  });

  it('turns throttling that outlasted the SDK retries into ExecutorThrottled, and leaves other errors alone', async () => {
    const throttled = Object.assign(new Error('Too Many Requests'), {
      name: 'TooManyRequestsException',
      $metadata: { httpStatusCode: 429 },
    });
    batch.on(SubmitJobCommand).rejects(throttled);
    await expect(executor().submit(request())).rejects.toMatchObject({
      name: 'RetryableError',
      code: 'ExecutorThrottled',
      retryAfterMs: 1000,
      cause: throttled,
    });
    const bare429 = Object.assign(new Error('slow down'), {
      name: 'Unknown',
      $metadata: { httpStatusCode: 429 },
    });
    batch.on(SubmitJobCommand).rejects(bare429);
    await expect(executor().submit(request())).rejects.toMatchObject({ code: 'ExecutorThrottled' });
    const bad = new ClientException({ message: 'bad job definition', $metadata: {} });
    batch.on(SubmitJobCommand).rejects(bad);
    await expect(executor().submit(request())).rejects.toBe(bad);
  });
});

describe('BatchExecutor.describe', () => {
  it('maps job details, in chunks of 100', async () => {
    batch.on(DescribeJobsCommand).callsFake((input: { jobs: string[] }) => ({
      jobs: input.jobs
        .filter((id) => id !== 'gone')
        .map((id) =>
          detail({
            jobId: id,
            status: 'FAILED',
            statusReason: 'Essential container in task exited',
            createdAt: 1_750_000_000_000,
            startedAt: 1_750_000_060_000,
            stoppedAt: 1_750_000_120_000,
            container: { exitCode: 3, logStreamName: `report/default/${id}` },
            arrayProperties: { index: 4 },
          }),
        ),
    }));
    const ids = [...Array.from({ length: 150 }, (_, i) => `b-${i}`), 'gone'];

    const jobs = await executor().describe(ids);

    expect(batch.commandCalls(DescribeJobsCommand).map((c) => c.args[0].input.jobs?.length)).toEqual([
      100, 51,
    ]);
    expect(jobs).toHaveLength(150);
    expect(jobs[0]).toEqual({
      executorJobId: 'b-0',
      jobName: `offpeak-report-${jobId}`,
      status: 'FAILED',
      statusReason: 'Essential container in task exited',
      exitCode: 3,
      createdAt: new Date(1_750_000_000_000),
      startedAt: new Date(1_750_000_060_000),
      stoppedAt: new Date(1_750_000_120_000),
      logStream: 'report/default/b-0',
      arrayIndex: 4,
    });
  });

  it('leaves out absent fields and unknown statuses', () => {
    expect(toExecutorJob(detail({ jobId: 'b', status: 'RUNNABLE', startedAt: undefined }))).toEqual({
      executorJobId: 'b',
      jobName: `offpeak-report-${jobId}`,
      status: 'RUNNABLE',
    });
    expect(toExecutorJob(detail({ status: 'EXPLODED' as JobDetail['status'] }))).toBeUndefined();
  });
});

describe('BatchExecutor.findByName', () => {
  it('lists the queue by job name across pages, keeps exact matches and describes them', async () => {
    const name = executorJobName('report', jobId);
    batch
      .on(ListJobsCommand, { nextToken: undefined })
      .resolves({
        jobSummaryList: [
          { jobId: 'a', jobName: name },
          { jobId: 'x', jobName: name.toLowerCase() },
        ],
        nextToken: 't2',
      })
      .on(ListJobsCommand, { nextToken: 't2' })
      .resolves({ jobSummaryList: [{ jobId: 'b', jobName: name }] });
    batch
      .on(DescribeJobsCommand)
      .callsFake((input: { jobs: string[] }) => ({ jobs: input.jobs.map((id) => detail({ jobId: id })) }));

    const found = await executor().findByName(name, 'high');

    expect(found.map((j) => j.executorJobId)).toEqual(['a', 'b']);
    const listCalls = batch.commandCalls(ListJobsCommand).map((c) => c.args[0].input);
    expect(listCalls).toHaveLength(2);
    expect(listCalls[0]).toMatchObject({
      jobQueue: jobQueues.high,
      filters: [{ name: 'JOB_NAME', values: [name] }],
    });
    expect(batch.commandCalls(DescribeJobsCommand)[0]?.args[0].input.jobs).toEqual(['a', 'b']);
  });
});

describe('BatchExecutor.terminate', () => {
  const clientError = () => new ClientException({ message: 'Job is in a terminal state', $metadata: {} });

  it('terminates a job', async () => {
    batch.on(TerminateJobCommand).resolves({});

    await executor().terminate('batch-1', 'cancelled by user');

    expect(batch.commandCalls(TerminateJobCommand)[0]?.args[0].input).toEqual({
      jobId: 'batch-1',
      reason: 'cancelled by user',
    });
  });

  it('treats a finished or unknown job as terminated', async () => {
    batch.on(TerminateJobCommand).rejects(clientError());
    batch
      .on(DescribeJobsCommand, { jobs: ['done'] })
      .resolves({ jobs: [detail({ jobId: 'done', status: 'SUCCEEDED' })] })
      .on(DescribeJobsCommand, { jobs: ['unknown'] })
      .resolves({ jobs: [] });

    await expect(executor().terminate('done', 'cancel')).resolves.toBeUndefined();
    await expect(executor().terminate('unknown', 'cancel')).resolves.toBeUndefined();
  });

  it('rethrows a ClientException for a job still running', async () => {
    batch.on(TerminateJobCommand).rejects(clientError());
    batch.on(DescribeJobsCommand).resolves({ jobs: [detail({ jobId: 'live', status: 'RUNNING' })] });

    await expect(executor().terminate('live', 'cancel')).rejects.toBeInstanceOf(ClientException);
  });
});
