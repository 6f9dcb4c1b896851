import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type LocalBusEvent, LocalEventBus } from '../../src/local/local-event-bus.js';
import { OffpeakEventType } from '../../src/ports/event-bus.js';

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'offpeak-bus-'));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('LocalEventBus', () => {
  it('appends EventBridge-shaped events as JSON lines and notifies subscribers', async () => {
    // Prepare
    const clock = { now: () => new Date('2026-01-02T03:04:05.678Z') };
    const bus = new LocalEventBus({ dataDir: join(dataDir, 'nested'), clock });
    const seen: LocalBusEvent[] = [];
    const unsubscribe = bus.subscribe((e) => seen.push(e));

    // Act
    await bus.publish([
      { detailType: OffpeakEventType.JobSucceeded, detail: { jobId: 'A' }, resources: ['A'] },
      { detailType: OffpeakEventType.JobFailed, detail: { jobId: 'B' } },
    ]);
    unsubscribe();
    await bus.publish([{ detailType: OffpeakEventType.JobStarted, detail: { jobId: 'C' } }]);

    // Assess
    const lines = (await readFile(bus.file, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as LocalBusEvent);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toEqual({
      version: '0',
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      'detail-type': 'Job Succeeded',
      source: 'offpeak',
      account: '000000000000',
      time: '2026-01-02T03:04:05Z',
      region: 'us-east-1',
      resources: ['A'],
      detail: { jobId: 'A' },
    });
    expect(lines[1]?.resources).toEqual([]);
    expect(seen.map((e) => e.detail.jobId)).toEqual(['A', 'B']);
  });

  it('keeps lines whole when batches are published concurrently, and survives a failing subscriber', async () => {
    const bus = new LocalEventBus({ dataDir });
    bus.subscribe(() => {
      throw new Error('subscriber bug');
    });
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        bus.publish([{ detailType: OffpeakEventType.JobSubmitted, detail: { i, pad: 'x'.repeat(5000) } }]),
      ),
    );
    const lines = (await readFile(bus.file, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(50);
    expect(new Set(lines.map((l) => (JSON.parse(l) as LocalBusEvent).detail.i)).size).toBe(50);
  });
});
