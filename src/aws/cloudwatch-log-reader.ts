import { type CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import type { LogReader, LogRef } from '../ports/log-reader.js';

export interface CloudWatchLogReaderOptions {
  readonly client: CloudWatchLogsClient;
  /** Job type name → the log group its containers write to (`OFFPEAK_JOB_LOG_GROUPS`). */
  readonly logGroups: Readonly<Record<string, string>>;
}

/**
 * Job logs on CloudWatch Logs: the awslogs driver writes each Batch attempt to its own stream (the event's
 * `container.logStreamName`) in the job type's log group. One GetLogEvents call per tail, newest events first
 * read, returned oldest first.
 *
 * @example
 * const logs = new CloudWatchLogReader({ client, logGroups: { hello: '/offpeak/jobs/hello' } });
 * await logs.tail({ jobId, jobType: 'hello', logStream: 'hello/default/4c1f…' }, 50);
 */
export class CloudWatchLogReader implements LogReader {
  readonly #client: CloudWatchLogsClient;
  readonly #logGroups: Readonly<Record<string, string>>;

  constructor(options: CloudWatchLogReaderOptions) {
    this.#client = options.client;
    this.#logGroups = options.logGroups;
  }

  async tail(ref: LogRef, limit: number): Promise<string[]> {
    const logGroupName = this.#logGroups[ref.jobType];
    if (!logGroupName || !ref.logStream) return [];
    try {
      const result = await this.#client.send(
        new GetLogEventsCommand({
          logGroupName,
          logStreamName: ref.logStream,
          startFromHead: false,
          limit: Math.max(1, Math.min(10_000, Math.floor(limit))),
        }),
      );
      return (result.events ?? []).map((event) => (event.message ?? '').replace(/\r?\n$/, '')).slice(-limit);
    } catch (error) {
      // The stream never got a line (the container did not start), or the log expired.
      if (error instanceof Error && error.name === 'ResourceNotFoundException') return [];
      throw error;
    }
  }
}
