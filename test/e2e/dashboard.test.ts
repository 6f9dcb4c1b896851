import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { exampleJobTypes } from '../../config/job-types.js';
import { buildCatalogData } from '../../src/core/catalog.js';
import type { Job } from '../../src/core/job.js';
import { isTerminal } from '../../src/core/job-state.js';
import { defineJobType } from '../../src/core/job-type.js';
import { type LocalService, startLocalService } from '../../src/local/service.js';
import { buildDashboard } from '../../web/build.js';

/** Debian's Chromium (`apt-get install chromium`); the suite never downloads a browser. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAS_CHROMIUM = existsSync(CHROMIUM);
// CI (.ci/run installs it) must run these tests; a developer machine without Chromium skips them, saying so.
if (!HAS_CHROMIUM && process.env.CI)
  throw new Error(`No Chromium at ${CHROMIUM}: apt-get install -y chromium`);
if (!HAS_CHROMIUM)
  console.warn(`Dashboard browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
const OUTPUT = join(process.cwd(), 'test-output');
/** Set to refresh the README's screenshot (docs/dashboard.png) from this run. */
const UPDATE_DOCS = process.env.OFFPEAK_UPDATE_DOCS_SCREENSHOT === '1';

const catalogData = buildCatalogData({
  jobTypes: [
    ...exampleJobTypes,
    defineJobType({
      name: 'report',
      description: 'Prints a few lines, slowly',
      image: 'busybox',
      command: ['sh', '-c', 'for i in 1 2 3; do echo "report line $i"; sleep 0.2; done'],
      params: z.object({}).strict(),
      retry: { attempts: 1 },
      monitoring: { expectedDurationSeconds: 600 },
    }),
  ],
});

let dataDir: string;
let service: LocalService;
let context: BrowserContext;
let page: Page;
let failedJob: Job;

async function api<T = Job>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${service.url}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return (await response.json()) as T;
}

async function finished(id: string): Promise<Job> {
  for (let i = 0; i < 200; i++) {
    const job = await api('GET', `/jobs/${id}`);
    if (isTerminal(job.state)) return job;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} did not finish`);
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(OUTPUT, `dashboard-${name}.png`), fullPage: false });
}

beforeAll(async () => {
  if (!HAS_CHROMIUM) return;
  dataDir = await mkdtemp(join(tmpdir(), 'offpeak-web-'));
  await mkdir(OUTPUT, { recursive: true });
  const staticDir = await buildDashboard(join(dataDir, 'web'));
  service = await startLocalService({
    catalogData,
    dataDir,
    port: 0,
    slots: 4,
    dispatchIntervalMs: 500,
    staticDir,
  });
  // Older history, written straight to the store: more than one page of jobs.
  const now = Date.now();
  for (let i = 0; i < 60; i++) {
    const at = new Date(now - (i + 1) * 60_000).toISOString();
    const id = ulid(now - (i + 1) * 60_000);
    await service.deps.store.createJob({
      id,
      type: i % 7 === 3 ? 'nightly-backup' : 'report',
      queue: 'normal',
      priority: 500,
      params: {},
      trigger: { kind: 'api' },
      dependsOn: [],
      state: 'SUCCEEDED',
      attempt: 1,
      maxAttempts: 1,
      attempts: [],
      history: [{ state: 'SUCCEEDED', at }],
      holdsSlot: false,
      createdAt: at,
      updatedAt: at,
      stateChangedAt: at,
      finishedAt: at,
      version: 0,
    });
  }
  const ok = await api('POST', '/jobs', { type: 'report', params: {} });
  const failed = await api('POST', '/jobs', { type: 'hello', params: { name: 'dashboard', exitCode: 3 } });
  await Promise.all([finished(ok.id), finished(failed.id)]);
  failedJob = await api('GET', `/jobs/${failed.id}`);
  context = await chromium.launchPersistentContext(join(dataDir, 'chromium-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1366, height: 820 },
  });
  page = context.pages()[0] ?? (await context.newPage());
}, 60_000);

afterAll(async () => {
  await context?.close();
  await service?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe.skipIf(!HAS_CHROMIUM)('web dashboard in Chromium', () => {
  it('lists jobs newest first, one server-side page at a time, and filters by state', async () => {
    await page.goto(`${service.url}/#/jobs`);
    const rows = page.locator('[data-testid=jobs-table] tbody tr');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(50);
    expect(await rows.first().textContent()).toContain(failedJob.id);
    await shot('jobs');
    if (UPDATE_DOCS) await page.screenshot({ path: join(process.cwd(), 'docs', 'dashboard.png') });

    await page.getByTestId('next-page').click();
    await expect.poll(() => rows.count()).toBe(12);

    await page.getByTestId('filter-state').selectOption('FAILED');
    await expect
      .poll(() => page.locator('[data-testid=jobs-table] tbody .badge').allTextContents())
      .toEqual(['FAILED']);
    expect(page.url()).toContain('#/jobs?state=FAILED');
  });

  it('opens a failed job: state, exit code, attempts and its log', async () => {
    await page.locator('[data-testid=job-link]', { hasText: failedJob.id }).click();
    await page.getByTestId('job-id').filter({ hasText: failedJob.id }).waitFor();
    await page.locator('h1 [data-state=FAILED]').waitFor();
    await expect.poll(() => page.getByTestId('log').textContent()).toBe('hello, dashboard');
    const attempts = await page.getByTestId('attempts').textContent();
    expect(attempts).toContain(failedJob.executorJobId);
    expect(attempts).toMatch(/MiB/);
    expect(await page.getByTestId('progress').textContent()).toBe('100%');
    await shot('failed-job');
  });

  it('shows a chunked job with one cell per chunk, coloured by its state', async () => {
    const rows = Array.from({ length: 200 }, (_, i) => `t${i},BANK${i % 3},${i + 1}`);
    await service.deps.objects!.put(
      'inputs/settlement/dashboard.csv',
      `txn_id,merchant_bank,amount_cents\n${rows.join('\n')}\n`,
      'text/csv',
    );
    const submitted = await api('POST', '/jobs', {
      type: 'settlement-map',
      input: service.deps.objects!.uri('inputs/settlement/dashboard.csv'),
      chunking: { chunkSizeBytes: 1024 },
    });
    const map = await finished(submitted.id);
    expect(map.state).toBe('SUCCEEDED');
    const total = map.chunks!.total;
    expect(total).toBeGreaterThan(2);
    await page.goto(`${service.url}/#/jobs/${map.id}`);
    const cells = page.locator('[data-testid=chunk-grid] i');
    await expect.poll(() => cells.count()).toBe(total);
    expect(
      new Set(await cells.evaluateAll((els) => els.map((e) => e.getAttribute('data-chunk-state')))),
    ).toEqual(new Set(['succeeded']));
    expect(await cells.first().getAttribute('title')).toBe('chunk 0: succeeded');
    await shot('chunked-job');
  });

  it('dead letters: lists the failed job with why it failed, and redrives it', async () => {
    await page.goto(`${service.url}/#/dead-letters`);
    const table = page.getByTestId('dead-letters-table');
    const row = table.locator('tr', { hasText: failedJob.id });
    await row.waitFor();
    expect(await row.textContent()).toMatch(/job.*hello.*no attempts left/s);
    await shot('dead-letters');
    await row.getByRole('checkbox').check();
    await page.getByTestId('redrive-selected').click();
    await expect.poll(() => page.getByTestId('redrive-result').textContent()).toBe('Redriven: 1');
    // The job runs again as a new attempt series (same job, history kept).
    const job = (await (await fetch(`${service.url}/jobs/${failedJob.id}`)).json()) as Job;
    expect(job.retries?.at(-1)).toMatchObject({ cause: 'redrive', from: 'FAILED' });
  });

  it('queues: pauses and resumes a queue, and changes its limit at run time', async () => {
    await page.goto(`${service.url}/#/queues`);
    await page.getByTestId('queues-table').waitFor();
    expect(await page.getByTestId('route-missing').count()).toBe(0);
    await page.getByTestId('pause-normal').click();
    await page.getByTestId('resume-normal').waitFor();
    const paused = await api<{ items: { name: string; paused: boolean }[] }>('GET', '/queues');
    expect(paused.items.find((q) => q.name === 'normal')?.paused).toBe(true);
    await page.getByLabel('Limit of normal').fill('3');
    await page
      .getByTestId('queues-table')
      .locator('tr', { hasText: 'normal' })
      .getByRole('button', { name: 'Set' })
      .click();
    await expect
      .poll(async () => {
        const { items } = await api<{ items: { name: string; concurrency: { limit: number } }[] }>(
          'GET',
          '/queues',
        );
        return items.find((q) => q.name === 'normal')?.concurrency.limit;
      })
      .toBe(3);
    await shot('queues');
    await page.getByTestId('resume-normal').click();
    await page.getByTestId('pause-normal').waitFor();
    await api('PATCH', '/queues/normal', { concurrency: null });
  });

  it('schedules: creates one from the form, shows its next run, pauses and deletes it', async () => {
    await page.goto(`${service.url}/#/schedules`);
    await page.getByLabel('Job type').fill('hello');
    await page.getByLabel('Expression').fill('rate(1 day)');
    await page.getByLabel('Params (JSON)').fill('{"name":"web"}');
    await page.getByRole('button', { name: 'Create' }).click();
    const row = page.locator('tr', { hasText: 'rate(1 day)' });
    await row.waitFor();
    expect(await row.textContent()).toMatch(/hello.*rate\(1 day\).*UTC.*enabled/);
    const [created] = (await api<{ items: { id: string; nextFireAt?: string }[] }>('GET', '/schedules'))
      .items;
    expect(created?.nextFireAt).toBeDefined();
    await row.getByRole('button', { name: 'Pause' }).click();
    await row.getByRole('button', { name: 'Resume' }).waitFor();
    await shot('schedules');
    page.once('dialog', (dialog) => void dialog.accept());
    await row.getByRole('button', { name: 'Delete' }).click();
    await page.getByText('No schedules.').waitFor();
  });

  it('pipelines: draws the graph with every step linking to its job', async () => {
    const pipeline = await api<{ id: string; steps: { id: string; jobId: string }[] }>('POST', '/pipelines', {
      name: 'web-pipeline',
      steps: [
        { id: 'extract', type: 'hello', params: { name: 'extract' } },
        { id: 'load', type: 'hello', params: { name: 'load' }, dependsOn: ['extract'] },
      ],
    });
    await Promise.all(pipeline.steps.map((step) => finished(step.jobId)));
    await page.goto(`${service.url}/#/pipelines/${pipeline.id}`);
    const graph = page.getByRole('img', { name: 'Pipeline graph' });
    await graph.waitFor();
    await expect
      .poll(() => graph.locator('text').allTextContents())
      .toEqual(['extract', 'SUCCEEDED', 'load', 'SUCCEEDED']);
    expect(await graph.locator('path').count()).toBe(1);
    const load = pipeline.steps.find((step) => step.id === 'load')!;
    expect(await graph.locator(`a[href="#/jobs/${load.jobId}"]`).count()).toBe(1);
    await shot('pipeline');
    await graph.locator(`a[href="#/jobs/${load.jobId}"]`).click();
    const back = page.locator(`a[href="#/pipelines/${pipeline.id}"]`);
    await back.waitFor();
    expect(await back.textContent()).toBe(`${pipeline.id} (step load)`);
  });

  it('overview: counts, throughput and queues', async () => {
    await page.goto(`${service.url}/#/`);
    await page.getByTestId('failed-hour').waitFor();
    expect(await page.getByTestId('failed-hour').textContent()).toMatch(/^1/);
    await shot('overview');
  });
});
