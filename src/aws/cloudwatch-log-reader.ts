import { type BatchClient, DescribeJobsCommand } from '@aws-sdk/client-batch';
import { type CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { ValidationError } from '../core/errors.js';
import type { LogPage, LogQuery, LogReader } from '../ports/log-reader.js';

export interface CloudWatchLogReaderOptions {
  readonly client: CloudWatchLogsClient;
  /** Job type name → the log group of its Batch job definition (`OFFPEAK_JOB_LOG_GROUPS`). */
  readonly logGroups: Readonly<Record<string, string>>;
  /** Finds a chunk's (array child's) log stream with DescribeJobs. @default - chunk logs are not available */
  readonly batch?: BatchClient;
}

/** CloudWatch's cursors are opaque tokens like `f/3861…/s`; ours must look like one. */
const TOKEN = /^[fb]\/[\w/+=-]{1,1000}$/;

/**
 * Job logs from CloudWatch Logs: GetLogEvents on the attempt's log stream (Batch's `container.logStreamName`) in
 * the log group of the job type's job definition. The cursor is CloudWatch's `nextForwardToken`, so a follow
 * keeps asking with it and gets the lines written since.
 */
export class CloudWatchLogReader implements LogReader {
  readonly #client: CloudWatchLogsClient;
  readonly #groups: Readonly<Record<string, string>>;
  readonly #batch: BatchClient | undefined;

  constructor(options: CloudWatchLogReaderOptions) {
    this.#client = options.client;
    this.#groups = options.logGroups;
    this.#batch = options.batch;
  }

  async location(query: Omit<LogQuery, 'cursor' | 'limit' | 'tail' | 'final'>): Promise<string | undefined> {
    const target = await this.#target(query);
    return target ? cloudWatchLocation(target.group, target.stream) : undefined;
  }

  async read(query: LogQuery): Promise<LogPage> {
    const target = await this.#target(query);
    if (!target) return { lines: [], found: false };
    if (query.cursor !== undefined && !TOKEN.test(query.cursor)) {
      throw new ValidationError('InvalidCursor', 'The log cursor is malformed or belongs to another log');
    }
    const location = cloudWatchLocation(target.group, target.stream);
    try {
      const result = await this.#client.send(
        new GetLogEventsCommand({
          logGroupName: target.group,
          logStreamName: target.stream,
          limit: Math.max(1, Math.min(10_000, query.limit)),
          // A forward token only works with startFromHead; a tail reads backwards from the end.
          startFromHead: query.cursor !== undefined || !query.tail,
          ...(query.cursor !== undefined ? { nextToken: query.cursor } : {}),
        }),
      );
      return {
        lines: (result.events ?? []).map((event) => ({
          ...(event.timestamp !== undefined ? { timestamp: new Date(event.timestamp).toISOString() } : {}),
          message: (event.message ?? '').replace(/\r?\n$/, ''),
        })),
        ...(result.nextForwardToken ? { nextCursor: result.nextForwardToken } : {}),
        location,
        found: true,
      };
    } catch (error) {
      if (error instanceof Error && error.name === 'ResourceNotFoundException') {
        return { lines: [], found: false, location, ...(query.cursor ? { nextCursor: query.cursor } : {}) };
      }
      throw error;
    }
  }

  async #target(
    query: Omit<LogQuery, 'cursor' | 'limit' | 'tail' | 'final'>,
  ): Promise<{ group: string; stream: string } | undefined> {
    const group = this.#groups[query.jobType];
    if (!group) return undefined;
    let stream = query.logStream;
    if (query.chunk !== undefined) {
      if (!this.#batch) return undefined;
      const result = await this.#batch.send(
        new DescribeJobsCommand({ jobs: [`${query.executorJobId}:${query.chunk}`] }),
      );
      stream = result.jobs?.[0]?.container?.logStreamName;
    }
    return stream ? { group, stream } : undefined;
  }
}

/** `cloudwatch://<log group>/<log stream>`: where a job's log lives on AWS. */
export function cloudWatchLocation(group: string, stream: string): string {
  return `cloudwatch://${group}/${stream}`;
}
