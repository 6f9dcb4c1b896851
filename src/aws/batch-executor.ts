import {
  type BatchClient,
  DescribeJobsCommand,
  type JobDetail,
  ListJobsCommand,
  SubmitJobCommand,
  TerminateJobCommand,
} from '@aws-sdk/client-batch';
import type { Catalog } from '../core/catalog.js';
import { NonRetryableError, RetryableError } from '../core/errors.js';
import { EXECUTOR_THROTTLED } from '../core/services/dispatch.js';
import type { ExecutionHandle, ExecutionRequest, Executor, ExecutorJob } from '../ports/executor.js';
import { ExecutorStatus } from '../ports/executor.js';

export interface BatchExecutorOptions {
  readonly client: BatchClient;
  /** Image and command of each job type, recorded on the job's run spec. */
  readonly catalog: Catalog;
  /** Offpeak queue name → Batch job queue ARN (`OFFPEAK_JOB_QUEUES`). */
  readonly jobQueues: Readonly<Record<string, string>>;
  /** Job type name → Batch job definition ARN with revision (`OFFPEAK_JOB_DEFINITIONS`). */
  readonly jobDefinitions: Readonly<Record<string, string>>;
}

/** Tag carrying the Offpeak job id on every Batch job (and, with propagateTags, on its tasks). */
export const JOB_ID_TAG = 'offpeak:jobId';
const DESCRIBE_MAX = 100;
const executorStatuses: ReadonlySet<string> = new Set(Object.values(ExecutorStatus));

/**
 * The Executor port on AWS Batch. Retries of infrastructure failures (Spot reclaim, host errors) are the job
 * definition's `retryStrategy` with `evaluateOnExit` (CDK); this adapter never sets a retry strategy.
 *
 * @example
 * const executor = new BatchExecutor({ client: clients.batch, catalog, jobQueues, jobDefinitions });
 * const handle = await executor.submit(request); // handle.executorJobId is the Batch job id
 */
export class BatchExecutor implements Executor {
  readonly #client: BatchClient;
  readonly #catalog: Catalog;
  readonly #jobQueues: Readonly<Record<string, string>>;
  readonly #jobDefinitions: Readonly<Record<string, string>>;

  constructor(options: BatchExecutorOptions) {
    this.#client = options.client;
    this.#catalog = options.catalog;
    this.#jobQueues = options.jobQueues;
    this.#jobDefinitions = options.jobDefinitions;
  }

  async submit(request: ExecutionRequest): Promise<ExecutionHandle> {
    const jobType = this.#catalog.jobType(request.jobType);
    const jobQueue = this.#jobQueue(request.queue);
    const jobDefinition = this.#jobDefinitions[request.jobType];
    if (jobDefinition === undefined) {
      throw new NonRetryableError(
        'UnknownJobDefinition',
        `No Batch job definition for job type "${request.jobType}"`,
        {
          details: { known: Object.keys(this.#jobDefinitions) },
        },
      );
    }
    const environment = {
      ...request.environment,
      OFFPEAK_JOB_ID: request.jobId,
      OFFPEAK_ATTEMPT: String(request.attempt),
    };
    const result = await this.#send(
      new SubmitJobCommand({
        jobName: request.jobName,
        jobQueue,
        jobDefinition,
        containerOverrides: {
          environment: Object.entries(environment).map(([name, value]) => ({ name, value })),
        },
        timeout: { attemptDurationSeconds: request.timeoutSeconds },
        ...(request.arraySize !== undefined && request.arraySize >= 2
          ? { arrayProperties: { size: request.arraySize } }
          : {}),
        tags: { ...request.tags, [JOB_ID_TAG]: request.jobId },
        propagateTags: true,
      }),
    );
    if (!result.jobId) throw new Error(`SubmitJob returned no job id for ${request.jobName}`);
    return {
      executorJobId: result.jobId,
      jobDefinition,
      image: jobType.image,
      command: [...jobType.command],
    };
  }

  async describe(executorJobIds: readonly string[]): Promise<ExecutorJob[]> {
    const ids = [...new Set(executorJobIds)];
    const jobs: ExecutorJob[] = [];
    for (let start = 0; start < ids.length; start += DESCRIBE_MAX) {
      const result = await this.#client.send(
        new DescribeJobsCommand({ jobs: ids.slice(start, start + DESCRIBE_MAX) }),
      );
      for (const detail of result.jobs ?? []) {
        const job = toExecutorJob(detail);
        if (job) jobs.push(job);
      }
    }
    return jobs;
  }

  async findByName(jobName: string, queue: string): Promise<ExecutorJob[]> {
    const jobQueue = this.#jobQueue(queue);
    const ids: string[] = [];
    let nextToken: string | undefined;
    do {
      // With a filter, ListJobs returns jobs in every status (jobStatus is ignored).
      const result = await this.#client.send(
        new ListJobsCommand({ jobQueue, filters: [{ name: 'JOB_NAME', values: [jobName] }], nextToken }),
      );
      for (const summary of result.jobSummaryList ?? []) {
        // The JOB_NAME filter is case-insensitive (and `*`-suffixed values are prefixes): keep exact matches.
        if (summary.jobName === jobName && summary.jobId) ids.push(summary.jobId);
      }
      nextToken = result.nextToken;
    } while (nextToken);
    return this.describe(ids);
  }

  async terminate(executorJobId: string, reason: string): Promise<void> {
    try {
      await this.#client.send(new TerminateJobCommand({ jobId: executorJobId, reason }));
    } catch (error) {
      if (!(error instanceof Error && error.name === 'ClientException')) throw error;
      // ClientException also covers permissions and bad input: only an unknown or finished job is a success.
      const [job] = await this.describe([executorJobId]);
      if (
        job !== undefined &&
        job.status !== ExecutorStatus.Succeeded &&
        job.status !== ExecutorStatus.Failed
      ) {
        throw error;
      }
    }
  }

  /**
   * SubmitJob through the client, whose retry strategy already backs off on throttling. Throttling that outlasts it
   * becomes a RetryableError `ExecutorThrottled`: the dispatcher puts the job back and pauses every dispatcher's
   * submissions, so it never reaches the job's user.
   */
  async #send(command: SubmitJobCommand) {
    try {
      return await this.#client.send(command);
    } catch (error) {
      if (isThrottling(error)) {
        throw new RetryableError(EXECUTOR_THROTTLED, 'AWS Batch throttled SubmitJob', {
          cause: error,
          retryAfterMs: 1000,
        });
      }
      throw error;
    }
  }

  #jobQueue(queue: string): string {
    const arn = this.#jobQueues[queue];
    if (arn === undefined) {
      throw new NonRetryableError('UnknownJobQueue', `No Batch job queue for Offpeak queue "${queue}"`, {
        details: { known: Object.keys(this.#jobQueues) },
      });
    }
    return arn;
  }
}

/** DescribeJobs detail → ExecutorJob (undefined for a detail without id, name or a known status). */
export function toExecutorJob(detail: JobDetail): ExecutorJob | undefined {
  const { jobId, jobName, status } = detail;
  if (!jobId || !jobName || !status || !executorStatuses.has(status)) return undefined;
  const exitCode = detail.container?.exitCode;
  const logStream = detail.container?.logStreamName;
  const arrayIndex = detail.arrayProperties?.index;
  return {
    executorJobId: jobId,
    jobName,
    status: status as ExecutorStatus,
    ...(detail.statusReason !== undefined ? { statusReason: detail.statusReason } : {}),
    ...(exitCode !== undefined ? { exitCode } : {}),
    ...(detail.createdAt !== undefined ? { createdAt: new Date(detail.createdAt) } : {}),
    ...(detail.startedAt !== undefined ? { startedAt: new Date(detail.startedAt) } : {}),
    ...(detail.stoppedAt !== undefined ? { stoppedAt: new Date(detail.stoppedAt) } : {}),
    ...(logStream !== undefined ? { logStream } : {}),
    ...(arrayIndex !== undefined ? { arrayIndex } : {}),
  };
}

const throttlingErrorNames: ReadonlySet<string> = new Set([
  'TooManyRequestsException',
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'RequestLimitExceeded',
]);

/** True for AWS Batch's throttling errors (HTTP 429 or a throttling error name). */
export function isThrottling(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return throttlingErrorNames.has(error.name) || status === 429;
}
