import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogData } from '../../config/offpeak.config.js';
import type { Job } from '../../src/core/job.js';
import { type LocalService, startLocalService } from '../../src/local/service.js';

let service: LocalService;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'offpeak-e2e-chunks-'));
  service = await startLocalService({
    catalogData,
    dataDir,
    slots: 2,
    dispatchIntervalMs: 300,
    reconcileIntervalMs: 600_000,
  });
});

afterAll(async () => {
  await service?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function api(method: string, path: string, body?: unknown) {
  const response = await fetch(`${service.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function until(id: string, states: readonly string[], timeoutMs = 60_000): Promise<Job> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await api('GET', `/jobs/${id}`);
    if (states.includes(body.state as string)) return body as unknown as Job;
    if (Date.now() > deadline) throw new Error(`job ${id} is ${body.state}, not ${states.join('|')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('chunked fan-out on the local service', () => {
  it('settles a day: the map runs as parallel chunk processes, the reduce totals per merchant bank', async () => {
    const banks = ['ALPHA', 'BRAVO', 'CHARLIE'];
    const rows = Array.from({ length: 600 }, (_, i) => `t${i},${banks[i % 3]},${(i % 7) + 1}`);
    const csv = `txn_id,merchant_bank,amount_cents\n${rows.join('\n')}\n`;
    const objects = service.deps.objects!;
    await objects.put('inputs/settlement/2026-11-23.csv', csv, 'text/csv');
    const expected = new Map<string, { cents: number; count: number }>();
    rows.forEach((row) => {
      const [, bank, cents] = row.split(',');
      const t = expected.get(bank!) ?? { cents: 0, count: 0 };
      t.cents += Number(cents);
      t.count += 1;
      expected.set(bank!, t);
    });

    const dry = await api('POST', '/jobs', {
      type: 'settlement-map',
      input: objects.uri('inputs/settlement/2026-11-23.csv'),
      chunking: { chunkSizeBytes: 2048 },
      dryRun: true,
    });
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ dryRun: true, ok: true, plan: { chunks: 4, arrayJobs: [4] } });
    expect((await api('GET', '/jobs?type=settlement-map')).body.items).toEqual([]); // nothing created

    const submitted = await api('POST', '/jobs', {
      type: 'settlement-map',
      input: objects.uri('inputs/settlement/2026-11-23.csv'),
      chunking: { chunkSizeBytes: 2048 },
    });
    expect(submitted.status).toBe(201);
    const map = await until(submitted.body.id as string, ['SUCCEEDED', 'FAILED']);
    expect(map).toMatchObject({
      state: 'SUCCEEDED',
      chunks: { total: 4, succeeded: 4, failed: 0, states: 'SSSS' },
    });
    expect(map.executorJobIds).toHaveLength(1);
    // Usage the four chunk workers recorded in their checkpoints, added up on the attempt by the tracker.
    const usage = map.attempts.find((a) => a.attempt === map.attempt)?.usage;
    expect(usage?.cpuSeconds).toBeGreaterThan(0);
    expect(usage?.peakMemoryMiB).toBeGreaterThan(10); // at least one Node worker's resident memory

    const reduce = await until(map.reduceJobId!, ['SUCCEEDED', 'FAILED', 'SKIPPED']);
    expect(reduce.state).toBe('SUCCEEDED');
    const totals = await objects.getText(`outputs/${reduce.id}/totals.csv`);
    const want = [
      'merchant_bank,amount_cents,transactions',
      ...banks.map((b) => `${b},${expected.get(b)!.cents},${expected.get(b)!.count}`),
    ];
    expect(totals?.trim().split('\n')).toEqual(want);
  });

  it('packs small jobs submitted together into one array job; each keeps its own state and log', async () => {
    // Submitted together (not one after another): on a loaded machine six sequential round trips can outlast the
    // type's 5 s packing window, and the late ones then rightly form a second pack.
    const responses = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        api('POST', '/jobs', { type: 'notify', params: { to: `user-${i}` } }),
      ),
    );
    for (const { status } of responses) expect(status).toBe(201);
    const ids = responses.map(({ body }) => body.id as string);
    const jobs = await Promise.all(ids.map((id) => until(id, ['SUCCEEDED', 'FAILED'])));
    for (const job of jobs) expect(job.state).toBe('SUCCEEDED');
    expect(new Set(jobs.map((j) => j.executorJobId)).size).toBe(1); // one array job
    const log = await service.deps.objects!.getText(`outputs/${ids[2]}/log.txt`);
    expect(log).toBe('notify user-2: \n');
  });
});
