import { z } from 'zod';
import { type ExecutorJob, ExecutorStatus } from '../ports/executor.js';

/**
 * An AWS Batch "Batch Job State Change" event as EventBridge delivers it (and as the local executor emits it).
 * Only the fields Offpeak reads are declared; the rest pass through untouched.
 */
export const BatchJobStateChangeSchema = z.object({
  'detail-type': z.literal('Batch Job State Change'),
  source: z.literal('aws.batch'),
  id: z.string().optional(),
  time: z.string().optional(),
  detail: z.looseObject({
    jobName: z.string(),
    jobId: z.string(),
    status: z.enum(Object.values(ExecutorStatus) as [ExecutorStatus, ...ExecutorStatus[]]),
    statusReason: z.string().optional(),
    createdAt: z.number().optional(),
    startedAt: z.number().optional(),
    stoppedAt: z.number().optional(),
    container: z
      .looseObject({ exitCode: z.number().int().optional(), logStreamName: z.string().optional() })
      .optional(),
    arrayProperties: z
      .looseObject({ index: z.number().int().optional(), size: z.number().int().optional() })
      .optional(),
    tags: z.record(z.string(), z.string()).optional(),
  }),
});
export type BatchJobStateChange = z.infer<typeof BatchJobStateChangeSchema>;

/** The executor-neutral view of a state-change event. */
export function toExecutorJob(event: BatchJobStateChange): ExecutorJob {
  const d = event.detail;
  return {
    executorJobId: d.jobId,
    jobName: d.jobName,
    status: d.status,
    ...(d.statusReason !== undefined ? { statusReason: d.statusReason } : {}),
    ...(d.container?.exitCode !== undefined ? { exitCode: d.container.exitCode } : {}),
    ...(d.createdAt !== undefined ? { createdAt: new Date(d.createdAt) } : {}),
    ...(d.startedAt !== undefined ? { startedAt: new Date(d.startedAt) } : {}),
    ...(d.stoppedAt !== undefined ? { stoppedAt: new Date(d.stoppedAt) } : {}),
    ...(d.container?.logStreamName !== undefined ? { logStream: d.container.logStreamName } : {}),
    ...(d.arrayProperties?.index !== undefined ? { arrayIndex: d.arrayProperties.index } : {}),
  };
}
