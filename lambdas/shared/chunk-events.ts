import type { SQSBatchItemFailure, SQSRecord } from 'aws-lambda';
import { BatchJobStateChangeSchema, toExecutorJob } from '../../src/core/batch-event.js';
import type { OffpeakDeps } from '../../src/core/deps.js';
import { applyChildUpdates } from '../../src/core/services/chunk-track.js';
import type { ExecutorJob } from '../../src/ports/executor.js';

/**
 * Splits a tracker batch: array-child state changes (chunks, pack children) are applied together, one write per
 * job (design §1: "aggregate a message batch per job before writing"); the other records go through the
 * per-record consumer. Records whose job write failed are reported as batch item failures (retried, then
 * dead-lettered).
 */
export async function applyChildRecords(
  deps: OffpeakDeps,
  records: readonly SQSRecord[],
): Promise<{ readonly rest: SQSRecord[]; readonly failures: SQSBatchItemFailure[] }> {
  const rest: SQSRecord[] = [];
  const children: { record: SQSRecord; update: ExecutorJob }[] = [];
  for (const record of records) {
    const update = childUpdateOf(record);
    if (update) children.push({ record, update });
    else rest.push(record);
  }
  if (children.length === 0) return { rest, failures: [] };
  const result = await applyChildUpdates(
    deps,
    children.map((c) => c.update),
  );
  const failed = new Set(result.failed.map((f) => f.update));
  deps.log.debug('Array-child events applied', {
    applied: result.applied,
    ignored: result.ignored,
    failed: failed.size,
  });
  return {
    rest,
    failures: children
      .filter((c) => failed.has(c.update))
      .map((c) => ({ itemIdentifier: c.record.messageId })),
  };
}

function childUpdateOf(record: SQSRecord): ExecutorJob | undefined {
  try {
    const parsed = BatchJobStateChangeSchema.safeParse(JSON.parse(record.body));
    if (!parsed.success) return undefined;
    const update = toExecutorJob(parsed.data);
    return update.arrayIndex !== undefined ? update : undefined;
  } catch {
    return undefined; // not JSON: the per-record consumer reports it
  }
}
