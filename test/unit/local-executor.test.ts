import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatchJobStateChangeSchema, toExecutorJob } from '../../src/core/batch-event.js';
import { buildCatalogData, Catalog } from '../../src/core/catalog.js';
import { newJobId } from '../../src/core/ids.js';
import { executorJobName, jobIdFromExecutorName } from '../../src/core/job-name.js';
import { defaultQueues } from '../../src/core/queue-spec.js';
import {
  type BatchStateChangeEvent,
  LocalExecutor,
  type LocalExecutorOptions,
  localLogFile,
} from '../../src/local/local-executor.js';
import type { ExecutionRequest } from '../../src/ports/executor.js';
import { fixturesDir } from './support/fixtures.js';

const sh = (script: string) => ['sh', '-c', script];

const catalog = new Catalog(
  buildCatalogData({
    jobTypes: [
      {
        name: 'env-dump',
        image: 'busybox',
        command: ['false'],
        localCommand: sh('env | grep -E "^(AWS_BATCH|OFFPEAK|TYPE_VAR|REQ_VAR)" | sort'),
        environment: { TYPE_VAR: 'from-type', REQ_VAR: 'overridden-by-request' },
      },
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
      { name: 'exit-with', image: 'busybox', command: sh('echo "out"; echo "err" >&2; exit "${CODE:-0}"') },
      { name: 'sleeper', image: 'busybox', command: sh('sleep 30 & echo $! > "$PID_FILE"; wait') },
      {
        name: 'stubborn',
        image: 'busybox',
        command: sh('trap "" TERM; sleep 30 & echo $! > "$PID_FILE"; wait; wait'),
      },
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
      { name: 'short', image: 'busybox', command: sh('sleep "${SECONDS_TO_SLEEP:-0.3}"') },
      { name: 'missing', image: 'busybox', command: ['/definitely/not/a/command'] },
      { name: 'urgent', image: 'busybox', command: sh('true'), queue: 'high' },
    ],
    queues: defaultQueues,
  }),
);

let dataDir: string;
let events: BatchStateChangeEvent[];
let executor: LocalExecutor;
let waiters: Array<() => void>;

function start(options: Partial<LocalExecutorOptions> = {}): LocalExecutor {
  executor = new LocalExecutor({
    catalog,
    dataDir,
    slots: 4,
    sink: async (event) => {
      events.push(event);
      for (const w of waiters.splice(0)) w();
    },
    ...options,
  });
  return executor;
}

function request(jobType: string, overrides: Partial<ExecutionRequest> = {}): ExecutionRequest {
  const jobId = newJobId();
  return {
    jobId,
    jobName: executorJobName(jobType, jobId),
    jobType,
    queue: catalog.jobType(jobType).queue,
    attempt: 1,
    environment: {},
    timeoutSeconds: 60,
    tags: { 'offpeak:job-id': jobId },
    ...overrides,
  };
}

/** Waits until an event for `jobId` with `status` arrives (bounded). */
async function eventFor(jobId: string, status: string, timeoutMs = 10_000): Promise<BatchStateChangeEvent> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = events.find((e) => e.detail.jobId === jobId && e.detail.status === status);
    if (found) return found;
    if (Date.now() > deadline) {
      throw new Error(`no ${status} event for ${jobId}; got ${statusesOf(jobId).join(', ')}`);
    }
    await new Promise<void>((r) => {
      waiters.push(r);
      setTimeout(r, 50);
    });
  }
}

function statusesOf(jobId: string): string[] {
  return events.filter((e) => e.detail.jobId === jobId).map((e) => e.detail.status);
}

/** True while `pid` runs (a zombie waiting for a parent that never reaps it counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no procfs (macOS): kill(0) is all we have
  }
}

async function readPid(file: string): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const text = await readFile(file, 'utf8').catch(() => '');
    if (text.trim()) return Number(text.trim());
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no pid in ${file}`);
}

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'offpeak-executor-'));
  events = [];
  waiters = [];
});

afterEach(async () => {
  await executor?.close({ graceMs: 200 });
  await rm(dataDir, { recursive: true, force: true });
});

describe('LocalExecutor', () => {
  it('runs a job with the Batch environment contract and emits SUBMITTED → RUNNABLE → STARTING → RUNNING → SUCCEEDED', async () => {
    // Prepare
    start();
    const req = request('env-dump', { environment: { REQ_VAR: 'from-request', OFFPEAK_PARAMS: '{}' } });

    // Act
    const handle = await executor.submit(req);
    const succeeded = await eventFor(handle.executorJobId, 'SUCCEEDED');

    // Assess
    expect(statusesOf(handle.executorJobId)).toEqual([
      'SUBMITTED',
      'RUNNABLE',
      'STARTING',
      'RUNNING',
      'SUCCEEDED',
    ]);
    expect(handle).toMatchObject({ jobDefinition: 'local:env-dump', image: 'busybox' });
    expect(handle.executorJobId).toMatch(/^[0-9a-f-]{36}$/);
    const log = await readFile(localLogFile(dataDir, req.jobId, handle.executorJobId), 'utf8');
    const env = Object.fromEntries(
      log
        .trim()
        .split('\n')
        .map((line) => line.split(/=(.*)/s).slice(0, 2)),
    );
    expect(env).toEqual({
      AWS_BATCH_CE_NAME: 'offpeak-local',
      AWS_BATCH_JOB_ATTEMPT: '1',
      AWS_BATCH_JOB_ID: handle.executorJobId,
      AWS_BATCH_JQ_NAME: 'offpeak-normal',
      OFFPEAK_JOB_ID: req.jobId,
      OFFPEAK_LOCAL_DIR: dataDir,
      OFFPEAK_PARAMS: '{}',
      REQ_VAR: 'from-request',
      TYPE_VAR: 'from-type',
    });
    expect(succeeded.detail.container).toMatchObject({
      exitCode: 0,
      logStreamName: `logs/${req.jobId}/${handle.executorJobId}.log`,
    });
    expect(jobIdFromExecutorName(succeeded.detail.jobName)).toBe(req.jobId);
  });

  it('emits events that parse as BatchJobStateChange and have the keys of the real Batch events', async () => {
    // Prepare
    start();
    const fixture = async (name: string) =>
      JSON.parse(await readFile(join(fixturesDir, `batch-job-state-change-${name}.json`), 'utf8')) as {
        detail: Record<string, unknown>;
      } & Record<string, unknown>;
    const keysOf = (o: object) => Object.keys(o).sort();

    // Act
    const ok = await executor.submit(request('exit-with'));
    const bad = await executor.submit(request('exit-with', { environment: { CODE: '1' } }));
    await eventFor(ok.executorJobId, 'SUCCEEDED');
    await eventFor(bad.executorJobId, 'FAILED');

    // Assess
    for (const event of events) expect(() => BatchJobStateChangeSchema.parse(event)).not.toThrow();
    for (const [status, file, id] of [
      ['RUNNABLE', 'runnable', ok.executorJobId],
      ['RUNNING', 'running', ok.executorJobId],
      ['SUCCEEDED', 'succeeded', ok.executorJobId],
      ['FAILED', 'failed', bad.executorJobId],
    ] as const) {
      const real = await fixture(file);
      const ours = events.find((e) => e.detail.jobId === id && e.detail.status === status)!;
      expect(keysOf(ours)).toEqual(keysOf(real));
      expect(keysOf(ours.detail)).toEqual(expect.arrayContaining(keysOf(real.detail)));
      const realContainer = real.detail.container as object;
      expect(keysOf(ours.detail.container ?? {})).toEqual(expect.arrayContaining(keysOf(realContainer)));
      expect(ours.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
    const failed = events.find((e) => e.detail.jobId === bad.executorJobId && e.detail.status === 'FAILED')!;
    expect(failed.detail).toMatchObject({
      statusReason: 'Essential container in task exited',
      container: { exitCode: 1 },
      attempts: [{ container: { exitCode: 1 }, statusReason: 'Essential container in task exited' }],
    });
    expect(toExecutorJob(BatchJobStateChangeSchema.parse(failed))).toMatchObject({
      exitCode: 1,
      status: 'FAILED',
    });
  });

  it('records a non-zero exit code and captures stdout and stderr in the log file', async () => {
    // Prepare
    start();
    const req = request('exit-with', { environment: { CODE: '3' } });

    // Act
    const { executorJobId } = await executor.submit(req);
    await eventFor(executorJobId, 'FAILED');

    // Assess
    const [described] = await executor.describe([executorJobId]);
    expect(described).toMatchObject({
      status: 'FAILED',
      exitCode: 3,
      statusReason: 'Essential container in task exited',
    });
    expect(described?.startedAt).toBeInstanceOf(Date);
    expect(described?.stoppedAt).toBeInstanceOf(Date);
    const log = await readFile(localLogFile(dataDir, req.jobId, executorJobId), 'utf8');
    expect(log.split('\n').sort()).toEqual(['', 'err', 'out']);
  });

  it('prefixes log lines with timestamps when asked', async () => {
    start({ timestampLogs: true });
    const req = request('exit-with');
    const { executorJobId } = await executor.submit(req);
    await eventFor(executorJobId, 'SUCCEEDED');
    const log = await readFile(localLogFile(dataDir, req.jobId, executorJobId), 'utf8');
    for (const line of log.trim().split('\n')) expect(line).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z (out|err)$/);
  });

  it('kills the whole process tree with SIGTERM when the timeout passes', async () => {
    // Prepare
    start();
    const pidFile = join(dataDir, 'sleep.pid');
    const req = request('sleeper', { timeoutSeconds: 0.5, environment: { PID_FILE: pidFile } });

    // Act
    const { executorJobId } = await executor.submit(req);
    const grandchild = await readPid(pidFile);
    const failed = await eventFor(executorJobId, 'FAILED');

    // Assess
    expect(failed.detail.statusReason).toBe('Job attempt duration exceeded timeout');
    expect(failed.detail.container).toMatchObject({ exitCode: 143, reason: 'Process ended by SIGTERM' });
    await expect.poll(() => alive(grandchild), { timeout: 5_000 }).toBe(false);
  });

  it('escalates to SIGKILL when the process ignores SIGTERM', async () => {
    start({ killGraceMs: 300 });
    const pidFile = join(dataDir, 'stubborn.pid');
    const { executorJobId } = await executor.submit(
      request('stubborn', { timeoutSeconds: 0.3, environment: { PID_FILE: pidFile } }),
    );
    const grandchild = await readPid(pidFile);
    const failed = await eventFor(executorJobId, 'FAILED');
    expect(failed.detail.container).toMatchObject({ exitCode: 137, reason: 'Process ended by SIGKILL' });
    await expect.poll(() => alive(grandchild), { timeout: 5_000 }).toBe(false);
  });

  it('terminates a running job (FAILED, "Terminated: <reason>") and a runnable one before it starts', async () => {
    // Prepare
    start({ slots: 1 });
    const pidFile = join(dataDir, 'running.pid');
    const running = await executor.submit(request('sleeper', { environment: { PID_FILE: pidFile } }));
    const waiting = await executor.submit(request('short'));
    const pid = await readPid(pidFile);
    await eventFor(waiting.executorJobId, 'RUNNABLE');

    // Act
    await executor.terminate(waiting.executorJobId, 'cancelled by user');
    await executor.terminate(running.executorJobId, 'cancelled by user');
    const failed = await eventFor(running.executorJobId, 'FAILED');

    // Assess
    expect(failed.detail.statusReason).toBe('Terminated: cancelled by user');
    expect(statusesOf(waiting.executorJobId)).toEqual(['SUBMITTED', 'RUNNABLE', 'FAILED']);
    await expect.poll(() => alive(pid), { timeout: 5_000 }).toBe(false);
    await executor.terminate(running.executorJobId, 'again'); // finished: not an error
    await executor.terminate('unknown-id', 'nothing'); // unknown: not an error
  });

  it('keeps jobs beyond the slots RUNNABLE and starts the highest queue priority first', async () => {
    // Prepare
    start({ slots: 1 });
    const first = await executor.submit(request('short'));
    await eventFor(first.executorJobId, 'RUNNING');
    const normal = await executor.submit(request('short', { environment: { SECONDS_TO_SLEEP: '0' } }));
    const high = await executor.submit(request('urgent'));

    // Act
    await eventFor(normal.executorJobId, 'SUCCEEDED');

    // Assess
    expect(executor.stats()).toMatchObject({ slots: 1, running: 0, runnable: 0 });
    const order = events
      .filter((e) => e.detail.status === 'STARTING')
      .map((e) => e.detail.jobId)
      .filter((id) => id !== first.executorJobId);
    expect(order).toEqual([high.executorJobId, normal.executorJobId]);
    let running = 0;
    let peak = 0;
    for (const e of events) {
      if (e.detail.status === 'STARTING') peak = Math.max(peak, ++running);
      if (e.detail.status === 'SUCCEEDED' || e.detail.status === 'FAILED') running--;
    }
    expect(peak).toBe(1);
  });

  it('runs an array job as N children <parent>:<i> with AWS_BATCH_JOB_ARRAY_INDEX', async () => {
    // Prepare
    start();
    const req = request('env-dump', { arraySize: 3 });

    // Act
    const { executorJobId: parent } = await executor.submit(req);
    const done = await eventFor(parent, 'SUCCEEDED');

    // Assess
    expect(statusesOf(parent)).toEqual(['SUBMITTED', 'PENDING', 'SUCCEEDED']);
    expect(done.detail.arrayProperties).toEqual({
      size: 3,
      statusSummary: {
        STARTING: 0,
        FAILED: 0,
        RUNNING: 0,
        SUCCEEDED: 3,
        RUNNABLE: 0,
        SUBMITTED: 0,
        PENDING: 0,
      },
    });
    for (const index of [0, 1, 2]) {
      const childId = `${parent}:${index}`;
      const child = await eventFor(childId, 'SUCCEEDED');
      expect(statusesOf(childId)).toEqual(['RUNNABLE', 'STARTING', 'RUNNING', 'SUCCEEDED']);
      expect(child.detail.arrayProperties).toEqual({ index });
      expect(toExecutorJob(BatchJobStateChangeSchema.parse(child)).arrayIndex).toBe(index);
      const log = await readFile(localLogFile(dataDir, req.jobId, childId), 'utf8');
      expect(log).toContain(`AWS_BATCH_JOB_ARRAY_INDEX=${index}\n`);
      expect(log).toContain(`AWS_BATCH_JOB_ID=${childId}\n`);
    }
    const described = await executor.describe([parent, `${parent}:1`]);
    expect(described.map((d) => d.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect(described[1]?.arrayIndex).toBe(1);
  });

  it('fails the array parent when a child fails', async () => {
    start();
    const { executorJobId: parent } = await executor.submit(
      request('exit-with', { arraySize: 2, environment: { CODE: '2' } }),
    );
    const failed = await eventFor(parent, 'FAILED');
    expect(failed.detail.statusReason).toBe('2 of 2 child jobs failed');
  });

  it('fails a job whose command cannot start, without RUNNING', async () => {
    start();
    const { executorJobId } = await executor.submit(request('missing'));
    const failed = await eventFor(executorJobId, 'FAILED');
    expect(failed.detail.statusReason).toMatch(/^CannotStartContainerError: /);
    expect(statusesOf(executorJobId)).toEqual(['SUBMITTED', 'RUNNABLE', 'STARTING', 'FAILED']);
  });

  it('describes only jobs it knows, and finds jobs by name and queue', async () => {
    start();
    const req = request('short', { environment: { SECONDS_TO_SLEEP: '0' } });
    const { executorJobId } = await executor.submit(req);
    expect(await executor.describe(['0b4c1d2e-0000-4000-8000-000000000000', executorJobId])).toHaveLength(1);
    expect(await executor.findByName(req.jobName, 'normal')).toEqual([
      expect.objectContaining({ executorJobId, jobName: req.jobName }),
    ]);
    expect(await executor.findByName(req.jobName, 'high')).toEqual([]);
    await eventFor(executorJobId, 'SUCCEEDED');
  });

  it('describes a job its clean stop ended after a restart (FAILED, terminated), sending no event at the stop', async () => {
    // Prepare
    const pidFile = join(dataDir, 'restart.pid');
    const first = start();
    const { executorJobId } = await first.submit(request('sleeper', { environment: { PID_FILE: pidFile } }));
    const pid = await readPid(pidFile);
    await eventFor(executorJobId, 'RUNNING');
    const before = events.length;

    // Act
    await first.close({ graceMs: 200 });
    const second = start();

    // Assess
    expect(alive(pid)).toBe(false);
    expect(events.length).toBe(before); // shutdown sends no events
    expect(await second.describe([executorJobId])).toEqual([
      expect.objectContaining({
        executorJobId,
        status: 'FAILED',
        statusReason: 'Terminated: executor shut down',
      }),
    ]);
    await expect(first.submit(request('short'))).rejects.toThrow(/shut down/);
  });

  it('survives a crash (kill -9): the job keeps running, a new instance adopts it and reports its exit code', async () => {
    // Prepare: an executor in its own process submits a job that runs for a second, then the process is killed.
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(dirname(fileURLToPath(import.meta.url)), '../support/executor-child.ts'),
        dataDir,
        'sleep 1; echo done; exit 3',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const executorJobId = await new Promise<string>((resolveId, reject) => {
      child.stdout?.once('data', (data: Buffer) => resolveId(data.toString().trim()));
      child.once('exit', (code) => reject(new Error(`executor child exited early (${code})`)));
    });
    await expect
      .poll(() => readFileSync(join(dataDir, 'executor', `${executorJobId}.json`), 'utf8'), {
        timeout: 5_000,
      })
      .toContain('"pid"');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));

    // Act
    const second = start();

    // Assess: described as running (not lost), then its real outcome, exit code 3, from the exit status file.
    expect((await second.describe([executorJobId]))[0]?.status).toBe('RUNNING');
    const failed = await eventFor(executorJobId, 'FAILED', 10_000);
    expect(failed.detail.container?.exitCode).toBe(3);
    expect(failed.detail.statusReason).toBe('Essential container in task exited');
    const [job] = await second.describe([executorJobId]);
    expect(job).toMatchObject({ status: 'FAILED', exitCode: 3 });
    expect(await readFile(localLogFile(dataDir, job!.jobName.slice(-26), executorJobId), 'utf8')).toBe(
      'done\n',
    );
  });

  it('after a crash, starts jobs that had not started and reports lost those caught starting (never twice)', async () => {
    const first = start({ slots: 1 });
    const blocker = await first.submit(request('short', { environment: { SECONDS_TO_SLEEP: '5' } }));
    const waiting = await first.submit(request('short', { environment: { SECONDS_TO_SLEEP: '0' } }));
    await eventFor(waiting.executorJobId, 'RUNNABLE');
    await eventFor(blocker.executorJobId, 'RUNNING');
    // A record caught STARTING before its spawn was recorded (no pid): it may or may not have run.
    const startingFile = join(dataDir, 'executor', `${blocker.executorJobId}.json`);
    const record = JSON.parse(readFileSync(startingFile, 'utf8'));
    await first.close({ graceMs: 200 });
    writeFileSync(startingFile, JSON.stringify({ ...record, status: 'STARTING', pid: undefined }));
    const waitingFile = join(dataDir, 'executor', `${waiting.executorJobId}.json`);
    const waitingRecord = JSON.parse(readFileSync(waitingFile, 'utf8'));
    writeFileSync(
      waitingFile,
      JSON.stringify({ ...waitingRecord, status: 'RUNNABLE', statusReason: undefined, stoppedAt: undefined }),
    );

    start({ slots: 1 });
    expect((await eventFor(blocker.executorJobId, 'FAILED')).detail.statusReason).toMatch(
      /^Host lost: .*starting/,
    );
    await eventFor(waiting.executorJobId, 'SUCCEEDED');
  });
});
