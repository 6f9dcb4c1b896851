import { describe, expect, it } from 'vitest';
import type { Heartbeat } from '../../src/core/services/heartbeat.js';
import { LocalUsageMonitor } from '../../src/local/usage-monitor.js';

const info = { jobId: 'JOB', attempt: 1, executorJobId: 'exec-1', pid: process.pid };

describe('LocalUsageMonitor', () => {
  it('close() waits for the final report of an attempt that just ended, and reports nothing after it', async () => {
    const reports: Heartbeat[] = [];
    let calls = 0;
    let settle: (() => void) | undefined;
    const monitor = new LocalUsageMonitor({
      sampleMs: 60_000,
      report: async (_jobId, heartbeat) => {
        calls++;
        await new Promise<void>((resolve) => {
          settle = resolve;
        });
        reports.push(heartbeat);
        return true;
      },
    });
    monitor.started(info);
    monitor.exited(info); // the attempt's last process ended: its final report is sent now
    let closed = false;
    const closing = monitor.close().then(() => {
      closed = true;
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(false); // still waiting for the store to take the report
    settle?.();
    await closing;
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ attempt: 1, executorJobId: 'exec-1' });

    monitor.started({ ...info, attempt: 2 });
    monitor.exited({ ...info, attempt: 2 });
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toBe(1); // closed: not even tried
  });
});
