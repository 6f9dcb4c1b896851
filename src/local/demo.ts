import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { catalogData as defaultCatalogData } from '../../config/offpeak.config.js';
import type { CatalogData } from '../core/catalog.js';
import type { Log } from '../core/deps.js';
import type { Job } from '../core/job.js';
import { isTerminal } from '../core/job-state.js';
import { consoleLog } from './console-log.js';
import { localLogFile } from './local-executor.js';
import { startLocalService } from './service.js';

export interface DemoOptions {
  /** Where the tour is printed. @default process.stdout */
  readonly out?: NodeJS.WritableStream;
  /** The service's own log. @default errors only, on stderr */
  readonly log?: Log;
  /** How long every job together may take to finish. @default 60_000 */
  readonly timeoutMs?: number;
  /** @default config/offpeak.config.ts */
  readonly catalogData?: CatalogData;
  /** Keep the temporary data directory (its path is printed). @default false */
  readonly keepData?: boolean;
}

/** One job of the tour and how it ended. */
export interface DemoRow {
  readonly label: string;
  readonly id: string;
  readonly type: string;
  readonly state: string;
  readonly attempts: number;
  readonly exitCode?: number;
  readonly durationMs?: number;
}

export interface DemoResult {
  /** True when every job ended as expected. */
  readonly ok: boolean;
  readonly rows: readonly DemoRow[];
  /** Why not, one line per unmet expectation. */
  readonly problems: readonly string[];
  readonly tookMs: number;
}

interface Expectation {
  readonly label: string;
  readonly state: string;
  readonly exitCode?: number;
}

/**
 * `npm run demo`: a guided tour of the local service. Starts its own service (random port, temporary data), then,
 * over the HTTP API as any client would: a `hello` job that succeeds, one that fails with exit code 3, the first
 * one again with the same idempotency key (200, same job), and a `nightly-backup` of a folder it creates. Waits for
 * every job, prints a table, and checks each outcome.
 *
 * @example
 * const { ok, problems } = await runDemo();
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const started = Date.now();
  const out = options.out ?? process.stdout;
  const say = (line = '') => out.write(`${line}\n`);
  const problems: string[] = [];
  const workDir = await mkdtemp(join(tmpdir(), 'offpeak-demo-'));
  const dataDir = join(workDir, 'data');
  const source = join(workDir, 'to-back-up');
  await mkdir(join(source, 'notes'), { recursive: true });
  await writeFile(join(source, 'notes', 'todo.txt'), 'back up the backups\n');
  await writeFile(join(source, 'report.csv'), 'day,jobs\nmon,3\n');

  say('Starting a local Offpeak service (temporary data, random port)…');
  const service = await startLocalService({
    catalogData: options.catalogData ?? defaultCatalogData,
    dataDir,
    port: 0,
    dispatchIntervalMs: 1_000,
    log: options.log ?? consoleLog({ level: 'error' }),
  });
  say(`  API at ${service.url}, data in ${dataDir}`);
  say();

  const rows: DemoRow[] = [];
  try {
    const post = async (body: unknown) => {
      const response = await fetch(`${service.url}/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const payload = (await response.json()) as Job & { error?: string; message?: string };
      if (!response.ok)
        throw new Error(`POST /jobs answered ${response.status}: ${payload.error}: ${payload.message}`);
      return { status: response.status, job: payload };
    };

    const key = `demo-${randomUUID()}`;
    const submitted: Array<{ job: Job; expect: Expectation }> = [];

    const hello = await post({ type: 'hello', params: { name: 'demo' }, idempotencyKey: key });
    say(`POST /jobs hello                      → ${hello.status} ${hello.job.id}`);
    if (hello.status !== 201) problems.push(`a new hello job answered ${hello.status}, expected 201`);
    submitted.push({ job: hello.job, expect: { label: 'hello', state: 'SUCCEEDED', exitCode: 0 } });

    const failing = await post({ type: 'hello', params: { name: 'demo', exitCode: 3 } });
    say(`POST /jobs hello {exitCode: 3}        → ${failing.status} ${failing.job.id}`);
    submitted.push({ job: failing.job, expect: { label: 'hello exit 3', state: 'FAILED', exitCode: 3 } });

    const again = await post({ type: 'hello', params: { name: 'demo' }, idempotencyKey: key });
    const same = again.job.id === hello.job.id;
    say(
      `POST /jobs hello, same idempotencyKey → ${again.status} ${again.job.id}${same ? ' (the same job)' : ''}`,
    );
    if (again.status !== 200) problems.push(`the repeated submit answered ${again.status}, expected 200`);
    if (!same) problems.push(`the repeated submit returned job ${again.job.id}, expected ${hello.job.id}`);

    const backup = await post({ type: 'nightly-backup', params: { source, label: 'demo' } });
    say(`POST /jobs nightly-backup             → ${backup.status} ${backup.job.id}`);
    submitted.push({ job: backup.job, expect: { label: 'nightly-backup', state: 'SUCCEEDED', exitCode: 0 } });
    say();
    say('Waiting for the jobs to finish…');

    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    const finals = new Map<string, Job>();
    while (finals.size < submitted.length && Date.now() < deadline) {
      for (const { job } of submitted) {
        if (finals.has(job.id)) continue;
        const response = await fetch(`${service.url}/jobs/${job.id}`);
        if (!response.ok) continue;
        const current = (await response.json()) as Job;
        if (isTerminal(current.state)) finals.set(job.id, current);
      }
      if (finals.size < submitted.length) await new Promise((r) => setTimeout(r, 200));
    }

    for (const { job, expect } of submitted) {
      const final = finals.get(job.id);
      if (!final) {
        const response = await fetch(`${service.url}/jobs/${job.id}`);
        const current = response.ok ? ((await response.json()) as Job) : undefined;
        problems.push(
          `${expect.label} (${job.id}) did not finish in time; it is ${current?.state ?? 'unknown'}`,
        );
        rows.push({
          label: expect.label,
          id: job.id,
          type: job.type,
          state: current?.state ?? '?',
          attempts: current?.attempt ?? 0,
        });
        continue;
      }
      rows.push({
        label: expect.label,
        id: final.id,
        type: final.type,
        state: final.state,
        attempts: final.attempt,
        ...(final.exitCode !== undefined ? { exitCode: final.exitCode } : {}),
        ...(final.finishedAt
          ? { durationMs: Date.parse(final.finishedAt) - Date.parse(final.createdAt) }
          : {}),
      });
      if (final.state !== expect.state) {
        problems.push(
          `${expect.label} (${final.id}) ended ${final.state}, expected ${expect.state}` +
            (final.statusReason ? `: ${final.statusReason}` : ''),
        );
      } else if (expect.exitCode !== undefined && final.exitCode !== expect.exitCode) {
        problems.push(
          `${expect.label} (${final.id}) exited ${final.exitCode ?? 'without a code'}, expected ${expect.exitCode}`,
        );
      }
    }

    say();
    say(table(rows));
    say();
    const helloLog = await readFile(
      localLogFile(dataDir, hello.job.id, finals.get(hello.job.id)?.executorJobId ?? '-'),
      'utf8',
    ).catch(() => undefined);
    if (helloLog !== undefined) say(`The hello job wrote: ${JSON.stringify(helloLog.trim())}`);
    else problems.push('the hello job left no log file');
    const archives = existsSync(join(dataDir, 'backups')) ? await readdir(join(dataDir, 'backups')) : [];
    const archive = archives.find((name) => name.includes(backup.job.id));
    if (archive) {
      const where = options.keepData
        ? join(dataDir, 'backups', archive)
        : `${archive} (removed with the temporary data; --keep keeps it)`;
      say(`The backup archive: ${where}`);
    } else if (finals.get(backup.job.id)?.state === 'SUCCEEDED')
      problems.push('nightly-backup succeeded but left no archive');
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  } finally {
    await service.stop();
    if (!options.keepData) await rm(workDir, { recursive: true, force: true });
  }

  const tookMs = Date.now() - started;
  say();
  if (problems.length === 0) {
    say(`Demo OK in ${(tookMs / 1000).toFixed(1)} s: every job ended as expected.`);
  } else {
    say(`Demo FAILED (${problems.length} problem${problems.length > 1 ? 's' : ''}):`);
    for (const problem of problems) say(`  - ${problem}`);
  }
  return { ok: problems.length === 0, rows, problems, tookMs };
}

function table(rows: readonly DemoRow[]): string {
  const header = ['job id', 'type', 'state', 'attempts', 'exit', 'duration', 'what'];
  const body = rows.map((r) => [
    r.id,
    r.type,
    r.state,
    String(r.attempts),
    r.exitCode === undefined ? '-' : String(r.exitCode),
    r.durationMs === undefined ? '-' : `${(r.durationMs / 1000).toFixed(2)} s`,
    r.label,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]?.length ?? 0)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  runDemo({ keepData: process.argv.includes('--keep') })
    .then((result) => process.exit(result.ok ? 0 : 1))
    .catch((error: unknown) => {
      process.stderr.write(
        `demo: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exit(1);
    });
}
