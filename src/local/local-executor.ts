import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { availableParallelism, constants as osConstants } from 'node:os';
import { join, resolve } from 'node:path';
import { finished, type Readable, Transform, type TransformCallback } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { BatchJobStateChange } from '../core/batch-event.js';
import type { Catalog, CatalogJobType } from '../core/catalog.js';
import { type Clock, systemClock } from '../core/clock.js';
import { type Log, silentLog } from '../core/deps.js';
import {
  type ExecutionHandle,
  type ExecutionRequest,
  type Executor,
  type ExecutorJob,
  ExecutorStatus,
} from '../ports/executor.js';
import { LocalAws } from './lambda-context.js';

/**
 * A "Batch Job State Change" event exactly as EventBridge delivers it (envelope and the JobDetail fields Batch
 * sends). The typed part is what {@link BatchJobStateChange} reads; the rest is there for fidelity.
 */
export type BatchStateChangeEvent = BatchJobStateChange & {
  readonly version: '0';
  readonly id: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: string[];
};

/** Where the executor delivers its state-change events (the events SQS queue, as EventBridge → SQS does). */
export type BatchEventSink = (event: BatchStateChangeEvent) => Promise<void>;

export interface LocalExecutorOptions {
  /** Job types: their `localCommand ?? command`, environment and resources. */
  readonly catalog: Catalog;
  /** The `.offpeak` data directory: logs go to `<dataDir>/logs/<jobId>/<executorJobId>.log`. */
  readonly dataDir: string;
  /** Receives every state-change event, in order. */
  readonly sink: BatchEventSink;
  /** Processes that may run at once (the compute capacity); the rest wait as RUNNABLE. @default os.availableParallelism() */
  readonly slots?: number;
  /** Working directory of job processes. @default process.cwd() */
  readonly cwd?: string;
  /**
   * Host environment passed to every job before the job's own (a container gets none, but local commands need
   * PATH and friends). @default PATH, HOME, USER, LOGNAME, SHELL, LANG, LC_ALL, TZ, TMPDIR, TEMP, TMP, SystemRoot
   */
  readonly baseEnvironment?: Readonly<Record<string, string>>;
  /** Extra variables for every job (e.g. emulator endpoints), below the job type's and the request's. @default {} */
  readonly environment?: Readonly<Record<string, string>>;
  /** Between SIGTERM and SIGKILL when a job times out or is terminated (Batch/ECS wait 30 s). @default 10_000 */
  readonly killGraceMs?: number;
  /** Prefix every log line with an ISO timestamp. @default false */
  readonly timestampLogs?: boolean;
  /** Batch job queue name for an Offpeak queue (AWS_BATCH_JQ_NAME). @default `offpeak-<queue>` */
  readonly jobQueueName?: (queue: string) => string;
  /** AWS_BATCH_CE_NAME. @default 'offpeak-local' */
  readonly computeEnvironmentName?: string;
  /** Finished jobs kept for describe() (oldest forgotten first, as Batch forgets old jobs). @default 10_000 */
  readonly maxFinishedJobs?: number;
  /** Told when a job process starts and ends (resource sampling). @default - none */
  readonly processListener?: ProcessListener;
  readonly clock?: Clock;
  readonly log?: Log;
}

/** A job process the executor started. Its process group id is its pid (each job runs in its own group). */
export interface JobProcessInfo {
  /** The Offpeak job id. */
  readonly jobId: string;
  readonly attempt: number;
  /** The executor job the process runs: a plain job, or one array child (`<parent>:<index>`). */
  readonly executorJobId: string;
  /** The array parent of a child, whose attempt the child belongs to. */
  readonly parentExecutorJobId?: string;
  readonly pid: number;
}

/** Hooks for a job process's life; they must not throw. */
export interface ProcessListener {
  started(info: JobProcessInfo): void;
  /** After the process exited, before its terminal state-change event is sent. */
  exited(info: JobProcessInfo): void;
}

const DEFAULT_BASE_ENV_KEYS = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LC_ALL',
  'TZ',
  'TMPDIR',
  'TEMP',
  'TMP',
  'SystemRoot',
] as const;

/** What Batch and ECS report when the container's process ends by itself. */
const EXITED_REASON = 'Essential container in task exited';
const TIMEOUT_REASON = 'Job attempt duration exceeded timeout';
/** After the process exits, wait this long for grandchildren to release stdout/stderr before closing them. */
const STDIO_DRAIN_MS = 2_000;
const SINK_ATTEMPTS = 5;

type Status = ExecutorStatus;
const terminalStatuses: ReadonlySet<Status> = new Set([ExecutorStatus.Succeeded, ExecutorStatus.Failed]);

interface LocalJob {
  readonly id: string;
  readonly request: ExecutionRequest;
  readonly jobType: CatalogJobType;
  readonly command: readonly string[];
  readonly jobQueueName: string;
  /** Batch priority of the queue: higher starts first, then submission order. */
  readonly priority: number;
  readonly seq: number;
  readonly createdAt: number;
  readonly parentId?: string;
  readonly arrayIndex?: number;
  readonly childIds?: readonly string[];
  status: Status;
  statusReason?: string;
  startedAt?: number;
  stoppedAt?: number;
  exitCode?: number;
  /** The signal that ended the process, if any (recorded as `container.reason`). */
  signal?: NodeJS.Signals;
  taskId?: string;
  logStream?: string;
  process?: ChildProcess;
  timers: NodeJS.Timeout[];
  terminateReason?: string;
  timedOut?: boolean;
  /** Ended by the executor's own shutdown: no event is sent (the service is going away). */
  silent?: boolean;
}

/**
 * Runs each job as a child process with AWS Batch's environment contract and reports its life as Batch "Job
 * State Change" events, so the tracker, dispatcher and reconciler cannot tell it from Batch.
 *
 * - Capacity: `slots` processes at once; the rest wait RUNNABLE, highest queue priority first.
 * - Array jobs (`arraySize ≥ 2`): a parent `<id>` (SUBMITTED → PENDING → SUCCEEDED | FAILED) and children
 *   `<id>:<i>`, each its own process with `AWS_BATCH_JOB_ARRAY_INDEX`.
 * - Each process runs in its own process group, so a timeout or terminate stops the whole tree (SIGTERM, then
 *   SIGKILL after `killGraceMs`).
 * - Only jobs started by this instance are known: after a restart, describe() leaves old ids out, and the
 *   reconciler repairs their Offpeak jobs, as it would for jobs Batch has forgotten.
 *
 * @example
 * const executor = new LocalExecutor({ catalog, dataDir: '.offpeak', sink: (e) => eventsQueue.send(e) });
 * const { executorJobId } = await executor.submit(request);
 */
export class LocalExecutor implements Executor {
  readonly slots: number;
  readonly #catalog: Catalog;
  readonly #dataDir: string;
  readonly #sink: BatchEventSink;
  readonly #cwd: string;
  readonly #baseEnv: Readonly<Record<string, string>>;
  readonly #extraEnv: Readonly<Record<string, string>>;
  readonly #killGraceMs: number;
  readonly #timestampLogs: boolean;
  readonly #jobQueueName: (queue: string) => string;
  readonly #ceName: string;
  readonly #maxFinished: number;
  readonly #clock: Clock;
  readonly #log: Log;
  readonly #processListener: ProcessListener | undefined;

  readonly #jobs = new Map<string, LocalJob>();
  /** Top-level ids in the order they finished, for forgetting old ones. */
  readonly #finished: string[] = [];
  readonly #runnable: LocalJob[] = [];
  readonly #running = new Set<LocalJob>();
  readonly #exits = new Set<Promise<void>>();
  #seq = 0;
  #emits: Promise<void> = Promise.resolve();
  #closing = false;
  readonly #onProcessExit = () => this.#killAllNow();

  constructor(options: LocalExecutorOptions) {
    this.#catalog = options.catalog;
    this.#dataDir = resolve(options.dataDir);
    this.#sink = options.sink;
    this.slots = Math.max(1, Math.floor(options.slots ?? availableParallelism()));
    this.#cwd = options.cwd ?? process.cwd();
    this.#baseEnv = options.baseEnvironment ?? pickHostEnvironment();
    this.#extraEnv = options.environment ?? {};
    this.#killGraceMs = options.killGraceMs ?? 10_000;
    this.#timestampLogs = options.timestampLogs ?? false;
    this.#jobQueueName = options.jobQueueName ?? ((queue) => `offpeak-${queue}`);
    this.#ceName = options.computeEnvironmentName ?? 'offpeak-local';
    this.#maxFinished = options.maxFinishedJobs ?? 10_000;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? silentLog;
    this.#processListener = options.processListener;
    process.on('exit', this.#onProcessExit);
  }

  async submit(request: ExecutionRequest): Promise<ExecutionHandle> {
    if (this.#closing) throw new Error('LocalExecutor is shut down');
    const jobType = this.#catalog.jobType(request.jobType);
    const command = jobType.localCommand ?? jobType.command;
    if (Object.keys(jobType.secrets).length > 0) {
      this.#log.warn('local executor does not resolve Secrets Manager secrets; they are not set', {
        jobType: jobType.name,
        secrets: Object.keys(jobType.secrets),
      });
    }
    let priority = 0;
    try {
      priority = this.#catalog.queue(request.queue).batchPriority;
    } catch {
      // An unknown queue still runs, at the lowest priority (Batch would have rejected it at submit time).
    }
    const id = randomUUID();
    const arraySize =
      request.arraySize !== undefined && request.arraySize >= 2 ? Math.floor(request.arraySize) : 0;
    const base = {
      request,
      jobType,
      command,
      jobQueueName: this.#jobQueueName(request.queue),
      priority,
      createdAt: this.#clock.now().getTime(),
      timers: [],
    };
    const childIds = Array.from({ length: arraySize }, (_, i) => `${id}:${i}`);
    const job: LocalJob = {
      ...base,
      id,
      seq: this.#seq++,
      status: ExecutorStatus.Submitted,
      ...(arraySize > 0 ? { childIds } : {}),
    };
    this.#jobs.set(id, job);
    this.#emit(job);
    // Batch answers SubmitJob first and moves the job on asynchronously.
    setImmediate(() => {
      if (job.status !== ExecutorStatus.Submitted) return; // terminated meanwhile
      if (arraySize === 0) {
        this.#enqueue(job);
      } else {
        this.#setStatus(job, ExecutorStatus.Pending);
        childIds.forEach((childId, index) => {
          const child: LocalJob = {
            ...base,
            id: childId,
            seq: this.#seq++,
            createdAt: this.#clock.now().getTime(),
            status: ExecutorStatus.Pending,
            parentId: id,
            arrayIndex: index,
            timers: [],
          };
          this.#jobs.set(childId, child);
          this.#enqueue(child);
        });
      }
      this.#pump();
    });
    return {
      executorJobId: id,
      jobDefinition: `local:${jobType.name}`,
      image: jobType.image,
      command: [...command],
    };
  }

  async describe(executorJobIds: readonly string[]): Promise<ExecutorJob[]> {
    const found: ExecutorJob[] = [];
    for (const id of executorJobIds) {
      const job = this.#jobs.get(id);
      if (job) found.push(this.#view(job));
    }
    return found;
  }

  async findByName(jobName: string, queue: string): Promise<ExecutorJob[]> {
    return [...this.#jobs.values()]
      .filter(
        (job) => job.parentId === undefined && job.request.jobName === jobName && job.request.queue === queue,
      )
      .sort((a, b) => a.createdAt - b.createdAt)
      .map((job) => this.#view(job));
  }

  async terminate(executorJobId: string, reason: string): Promise<void> {
    const job = this.#jobs.get(executorJobId);
    if (!job || terminalStatuses.has(job.status)) return;
    const why = `Terminated: ${reason}`;
    if (job.childIds) {
      job.terminateReason = why;
      for (const childId of job.childIds) {
        const child = this.#jobs.get(childId);
        if (child && !terminalStatuses.has(child.status)) this.#stop(child, why);
      }
      // A parent whose children were never created (terminated right after submit) ends at once.
      if (job.childIds.every((childId) => !this.#jobs.has(childId))) {
        this.#finish(job, ExecutorStatus.Failed, why);
      }
      return;
    }
    this.#stop(job, why);
  }

  /** Jobs waiting for a slot and jobs running, for status displays. */
  stats(): { readonly slots: number; readonly running: number; readonly runnable: number } {
    return { slots: this.slots, running: this.#running.size, runnable: this.#runnable.length };
  }

  /**
   * Stops every process (SIGTERM, SIGKILL after `graceMs`), waits for them and for events already sent, and
   * accepts no more work. Jobs ended by the shutdown send no events: after a restart the reconciler repairs them.
   */
  async close(options: { readonly graceMs?: number } = {}): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    const graceMs = options.graceMs ?? Math.min(this.#killGraceMs, 5_000);
    for (const job of this.#runnable.splice(0)) this.#silence(job, 'Executor shut down');
    for (const job of this.#running) {
      job.silent = true;
      job.terminateReason ??= 'Terminated: executor shut down';
      this.#signal(job, 'SIGTERM');
      job.timers.push(setTimeout(() => this.#signal(job, 'SIGKILL'), graceMs).unref());
    }
    await Promise.allSettled([...this.#exits]);
    await this.#emits;
    process.off('exit', this.#onProcessExit);
  }

  // ── lifecycle ──────────────────────────────────────────────────────────────────────────────────────────────

  #enqueue(job: LocalJob): void {
    this.#setStatus(job, ExecutorStatus.Runnable);
    this.#runnable.push(job);
  }

  #pump(): void {
    if (this.#closing) return;
    while (this.#running.size < this.slots && this.#runnable.length > 0) {
      let best = 0;
      for (let i = 1; i < this.#runnable.length; i++) {
        const a = this.#runnable[i]!;
        const b = this.#runnable[best]!;
        if (a.priority > b.priority || (a.priority === b.priority && a.seq < b.seq)) best = i;
      }
      const [job] = this.#runnable.splice(best, 1);
      if (job) this.#start(job);
    }
  }

  #start(job: LocalJob): void {
    this.#running.add(job);
    job.taskId = randomUUID().replaceAll('-', '');
    this.#setStatus(job, ExecutorStatus.Starting);

    const logFile = localLogFile(this.#dataDir, job.request.jobId, job.id);
    let out: WriteStream;
    try {
      mkdirSync(join(this.#dataDir, 'logs', job.request.jobId), { recursive: true });
      out = createWriteStream(logFile, { flags: 'a' });
    } catch (error) {
      this.#finish(job, ExecutorStatus.Failed, `CannotStartContainerError: ${errorMessage(error)}`);
      return;
    }
    out.on('error', (error) =>
      this.#log.warn('job log write failed', { logFile, error: errorMessage(error) }),
    );

    const [file, ...args] = job.command;
    let child: ChildProcess;
    try {
      child = spawn(file ?? '', args, {
        cwd: this.#cwd,
        env: this.#environment(job),
        stdio: ['ignore', 'pipe', 'pipe'],
        // Own process group: signals reach the command's children too (`sh -c 'sleep …'`).
        detached: process.platform !== 'win32',
        windowsHide: true,
      });
    } catch (error) {
      out.end();
      this.#finish(job, ExecutorStatus.Failed, `CannotStartContainerError: ${errorMessage(error)}`);
      return;
    }
    job.process = child;

    let settle!: () => void;
    const exited = new Promise<void>((r) => {
      settle = r;
    });
    this.#exits.add(exited);
    const sources: Readable[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      const source = this.#timestampLogs ? stream.pipe(new TimestampLines(this.#clock)) : stream;
      source.pipe(out, { end: false });
      sources.push(source);
    }
    // The terminal event is sent only once the log file holds everything the process wrote.
    const done = (finish: () => void) => {
      for (const timer of job.timers.splice(0)) clearTimeout(timer);
      const drained = Promise.all(sources.map((s) => new Promise<void>((r) => finished(s, () => r()))));
      void within(drained, STDIO_DRAIN_MS)
        .then(() => new Promise<void>((r) => finished(out.end(), () => r())))
        .then(() => {
          finish();
          this.#exits.delete(exited);
          settle();
        });
    };

    let spawned = false;
    const processInfo = (): JobProcessInfo | undefined =>
      child.pid === undefined
        ? undefined
        : {
            jobId: job.request.jobId,
            attempt: job.request.attempt,
            executorJobId: job.id,
            ...(job.parentId !== undefined ? { parentExecutorJobId: job.parentId } : {}),
            pid: child.pid,
          };
    child.once('spawn', () => {
      spawned = true;
      const info = processInfo();
      if (info) this.#processListener?.started(info);
      job.startedAt = this.#clock.now().getTime();
      job.logStream = localLogStream(job.request.jobId, job.id);
      if (job.terminateReason) {
        // Terminated while STARTING: never report RUNNING.
        this.#signal(job, 'SIGTERM');
      } else {
        this.#setStatus(job, ExecutorStatus.Running);
      }
      const timeoutMs = job.request.timeoutSeconds * 1000;
      if (Number.isFinite(timeoutMs) && timeoutMs > 0) {
        job.timers.push(
          setTimeout(() => {
            job.timedOut = true;
            this.#kill(job);
          }, timeoutMs),
        );
      }
    });
    child.once('error', (error) => {
      if (spawned) {
        this.#log.warn('job process error', { executorJobId: job.id, error: errorMessage(error) });
        return;
      }
      done(() =>
        this.#finish(job, ExecutorStatus.Failed, `CannotStartContainerError: ${errorMessage(error)}`),
      );
    });
    child.once('exit', () => {
      // A grandchild that escaped the process group may hold stdout open; do not wait for it forever.
      const drain = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, STDIO_DRAIN_MS);
      drain.unref();
      job.timers.push(drain);
    });
    child.once('close', (code, signal) => {
      if (!spawned) return;
      job.exitCode = code ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : undefined);
      if (signal) job.signal = signal;
      const reason = job.terminateReason ?? (job.timedOut ? TIMEOUT_REASON : EXITED_REASON);
      const status =
        code === 0 && !job.terminateReason && !job.timedOut
          ? ExecutorStatus.Succeeded
          : ExecutorStatus.Failed;
      const info = processInfo();
      if (info) this.#processListener?.exited(info);
      done(() => this.#finish(job, status, reason));
    });
  }

  /** Terminate: a job that has not started ends at once; a started one is signalled and ends when it exits. */
  #stop(job: LocalJob, reason: string): void {
    if (job.status === ExecutorStatus.Starting || job.status === ExecutorStatus.Running) {
      job.terminateReason = reason;
      this.#kill(job);
      return;
    }
    const index = this.#runnable.indexOf(job);
    if (index >= 0) this.#runnable.splice(index, 1);
    this.#finish(job, ExecutorStatus.Failed, reason);
  }

  #kill(job: LocalJob): void {
    this.#signal(job, 'SIGTERM');
    job.timers.push(setTimeout(() => this.#signal(job, 'SIGKILL'), this.#killGraceMs));
  }

  #signal(job: LocalJob, signal: NodeJS.Signals): void {
    const child = job.process;
    if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      if (process.platform === 'win32') child.kill(signal);
      else process.kill(-child.pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') {
        this.#log.warn('could not signal job process', {
          executorJobId: job.id,
          signal,
          error: errorMessage(error),
        });
      }
    }
  }

  #killAllNow(): void {
    for (const job of this.#running) this.#signal(job, 'SIGKILL');
  }

  #finish(job: LocalJob, status: Status, reason: string): void {
    if (terminalStatuses.has(job.status)) return;
    this.#running.delete(job);
    job.process = undefined;
    job.stoppedAt = this.#clock.now().getTime();
    job.statusReason = reason;
    this.#setStatus(job, status);
    if (job.parentId === undefined) this.#remember(job.id);
    else this.#childFinished(job.parentId);
    this.#pump();
  }

  #childFinished(parentId: string): void {
    const parent = this.#jobs.get(parentId);
    if (!parent?.childIds || terminalStatuses.has(parent.status)) return;
    const children = parent.childIds.map((id) => this.#jobs.get(id));
    if (children.some((child) => !child || !terminalStatuses.has(child.status))) return;
    const failed = children.filter((child) => child?.status === ExecutorStatus.Failed).length;
    if (children.some((child) => child?.silent)) parent.silent = true;
    if (failed === 0) this.#finish(parent, ExecutorStatus.Succeeded, 'All child jobs succeeded');
    else
      this.#finish(
        parent,
        ExecutorStatus.Failed,
        parent.terminateReason ?? `${failed} of ${children.length} child jobs failed`,
      );
  }

  #silence(job: LocalJob, reason: string): void {
    job.silent = true;
    this.#finish(job, ExecutorStatus.Failed, reason);
  }

  #remember(id: string): void {
    this.#finished.push(id);
    while (this.#finished.length > this.#maxFinished) {
      const old = this.#finished.shift();
      const job = old === undefined ? undefined : this.#jobs.get(old);
      if (!job) continue;
      for (const childId of job.childIds ?? []) this.#jobs.delete(childId);
      this.#jobs.delete(job.id);
    }
  }

  #setStatus(job: LocalJob, status: Status): void {
    job.status = status;
    this.#emit(job);
  }

  // ── environment, events, views ─────────────────────────────────────────────────────────────────────────────

  #environment(job: LocalJob): Record<string, string> {
    return {
      ...this.#baseEnv,
      ...this.#extraEnv,
      ...job.jobType.environment,
      ...job.request.environment,
      // Reserved, as on Batch: the job cannot override these.
      AWS_BATCH_JOB_ID: job.id,
      // Each Offpeak attempt is a new Batch job; Batch's own (infrastructure) retries are not emulated.
      AWS_BATCH_JOB_ATTEMPT: '1',
      AWS_BATCH_JQ_NAME: job.jobQueueName,
      AWS_BATCH_CE_NAME: this.#ceName,
      ...(job.arrayIndex !== undefined ? { AWS_BATCH_JOB_ARRAY_INDEX: String(job.arrayIndex) } : {}),
      OFFPEAK_JOB_ID: job.request.jobId,
      OFFPEAK_LOCAL_DIR: this.#dataDir,
    };
  }

  #emit(job: LocalJob): void {
    if (this.#closing || job.silent) return;
    const event = this.#event(job);
    this.#emits = this.#emits.then(() => this.#send(event));
  }

  async #send(event: BatchStateChangeEvent): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#sink(event);
        return;
      } catch (error) {
        if (attempt >= SINK_ATTEMPTS) {
          this.#log.error(
            'could not deliver a Batch state-change event; the reconciler will repair the job',
            {
              executorJobId: event.detail.jobId,
              status: event.detail.status,
              error: errorMessage(error),
            },
          );
          return;
        }
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      }
    }
  }

  #event(job: LocalJob): BatchStateChangeEvent {
    const region = LocalAws.region;
    const account = LocalAws.accountId;
    const jobArn = `arn:aws:batch:${region}:${account}:job/${job.id}`;
    const isParent = job.childIds !== undefined;
    const terminal = terminalStatuses.has(job.status);
    const taskArn = job.taskId
      ? `arn:aws:ecs:${region}:${account}:task/${this.#ceName}/${job.taskId}`
      : undefined;
    const containerInstanceArn = `arn:aws:ecs:${region}:${account}:container-instance/${this.#ceName}/local`;
    const environment = Object.entries({ ...job.jobType.environment, ...job.request.environment }).map(
      ([name, value]) => ({ name, value }),
    );
    const runtime = {
      ...(taskArn ? { containerInstanceArn, taskArn } : {}),
      ...(job.logStream ? { logStreamName: job.logStream } : {}),
      ...(terminal && job.exitCode !== undefined ? { exitCode: job.exitCode } : {}),
      ...(terminal && job.signal ? { reason: `Process ended by ${job.signal}` } : {}),
    };
    const attempts =
      terminal && !isParent && job.startedAt !== undefined
        ? [
            {
              container: { ...runtime, networkInterfaces: [] },
              startedAt: job.startedAt,
              stoppedAt: job.stoppedAt,
              statusReason: job.statusReason,
            },
          ]
        : [];
    const now = this.#clock.now();
    return {
      version: '0',
      id: randomUUID(),
      'detail-type': 'Batch Job State Change',
      source: 'aws.batch',
      account,
      time: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region,
      resources: [jobArn],
      detail: {
        jobArn,
        jobName: job.request.jobName,
        jobId: job.id,
        jobQueue: `arn:aws:batch:${region}:${account}:job-queue/${job.jobQueueName}`,
        status: job.status,
        ...(job.statusReason !== undefined ? { statusReason: job.statusReason } : {}),
        attempts,
        createdAt: job.createdAt,
        retryStrategy: { attempts: 1, evaluateOnExit: [] },
        ...(job.startedAt !== undefined && !isParent ? { startedAt: job.startedAt } : {}),
        ...(job.stoppedAt !== undefined ? { stoppedAt: job.stoppedAt } : {}),
        dependsOn: [],
        jobDefinition: `local:${job.jobType.name}`,
        parameters: {},
        container: {
          image: job.jobType.image,
          command: [...job.command],
          volumes: [],
          environment,
          mountPoints: [],
          ulimits: [],
          networkInterfaces: [],
          resourceRequirements: [
            { value: String(job.jobType.vcpu), type: 'VCPU' },
            { value: String(job.jobType.memoryMiB), type: 'MEMORY' },
            ...(job.jobType.gpu > 0 ? [{ value: String(job.jobType.gpu), type: 'GPU' }] : []),
          ],
          secrets: Object.entries(job.jobType.secrets).map(([name, valueFrom]) => ({ name, valueFrom })),
          ...(isParent ? {} : runtime),
        },
        timeout: { attemptDurationSeconds: job.request.timeoutSeconds },
        tags: { ...job.request.tags, resourceArn: jobArn },
        propagateTags: false,
        platformCapabilities: [],
        ...(isParent
          ? { arrayProperties: { statusSummary: this.#statusSummary(job), size: job.childIds.length } }
          : {}),
        ...(job.arrayIndex !== undefined ? { arrayProperties: { index: job.arrayIndex } } : {}),
      },
    };
  }

  #statusSummary(parent: LocalJob): Record<Status, number> {
    const summary: Record<Status, number> = {
      STARTING: 0,
      FAILED: 0,
      RUNNING: 0,
      SUCCEEDED: 0,
      RUNNABLE: 0,
      SUBMITTED: 0,
      PENDING: 0,
    };
    for (const id of parent.childIds ?? []) {
      const child = this.#jobs.get(id);
      if (child) summary[child.status] += 1;
    }
    return summary;
  }

  #view(job: LocalJob): ExecutorJob {
    return {
      executorJobId: job.id,
      jobName: job.request.jobName,
      status: job.status,
      ...(job.statusReason !== undefined ? { statusReason: job.statusReason } : {}),
      ...(job.exitCode !== undefined && terminalStatuses.has(job.status) ? { exitCode: job.exitCode } : {}),
      createdAt: new Date(job.createdAt),
      ...(job.startedAt !== undefined && job.childIds === undefined
        ? { startedAt: new Date(job.startedAt) }
        : {}),
      ...(job.stoppedAt !== undefined ? { stoppedAt: new Date(job.stoppedAt) } : {}),
      ...(job.logStream !== undefined ? { logStream: job.logStream } : {}),
      ...(job.arrayIndex !== undefined ? { arrayIndex: job.arrayIndex } : {}),
    };
  }
}

/**
 * The log stream name the local executor reports (`container.logStreamName`): the log file's path relative to
 * the data directory, `logs/<jobId>/<executorJobId>.log`.
 */
export function localLogStream(jobId: string, executorJobId: string): string {
  return `logs/${jobId}/${fileSafe(executorJobId)}.log`;
}

/** Absolute path of the log file of one executor job (array children `<parent>:<i>` get their own file). */
export function localLogFile(dataDir: string, jobId: string, executorJobId: string): string {
  return join(resolve(dataDir), 'logs', jobId, `${fileSafe(executorJobId)}.log`);
}

/** `:` is not allowed in Windows file names; elsewhere the executor job id is used as is. */
function fileSafe(id: string): string {
  return process.platform === 'win32' ? id.replaceAll(':', '_') : id;
}

function pickHostEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of DEFAULT_BASE_ENV_KEYS) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}

/** Resolves when `promise` settles or after `ms`, whichever comes first. */
function within(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise<void>((r) => {
    const timer = setTimeout(r, ms);
    void promise.finally(() => {
      clearTimeout(timer);
      r();
    });
  });
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Prefixes each line with an ISO timestamp (a partial last line is flushed at the end). */
class TimestampLines extends Transform {
  #rest = '';
  readonly #decoder = new StringDecoder('utf8');
  readonly #clock: Clock;

  constructor(clock: Clock) {
    super();
    this.#clock = clock;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const text = this.#rest + this.#decoder.write(chunk);
    const lines = text.split('\n');
    this.#rest = lines.pop() ?? '';
    const stamp = this.#clock.now().toISOString();
    callback(null, lines.map((line) => `${stamp} ${line}\n`).join(''));
  }

  override _flush(callback: TransformCallback): void {
    const rest = this.#rest + this.#decoder.end();
    callback(null, rest ? `${this.#clock.now().toISOString()} ${rest}\n` : '');
  }
}
