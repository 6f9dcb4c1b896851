import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  accessSync,
  closeSync,
  createWriteStream,
  constants as fsConstants,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  type WriteStream,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, constants as osConstants } from 'node:os';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { finished, type Readable, Transform, type TransformCallback } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { BatchJobStateChange } from '../core/batch-event.js';
import type { Catalog, CatalogJobType } from '../core/catalog.js';
import { type Clock, systemClock } from '../core/clock.js';
import { type Log, silentLog } from '../core/deps.js';
import { JobTypeSpecSchema } from '../core/job-type.js';
import { WorkerEnv } from '../core/worker-env.js';
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
  /**
   * The worker runtime put in front of the command of chunked and packed jobs (`OFFPEAK_WORKER` set), as the job
   * definition does on Batch. @default this Node with tsx running src/worker/main.ts
   */
  readonly workerCommand?: readonly string[];
}

/** `node --import tsx src/worker/main.ts`: the worker from source, as the local service runs everything. */
export function defaultLocalWorkerCommand(): string[] {
  return [
    process.execPath,
    '--import',
    import.meta.resolve('tsx'),
    new URL('../worker/main.ts', import.meta.url).pathname,
  ];
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
  /** Process id (and process group) of the job's wrapper, recorded as soon as it is spawned. */
  pid?: number;
  /** A job process started by an earlier instance (before a restart), watched by polling. */
  adopted?: boolean;
}

/** What the registry keeps of a job, so that a restarted executor knows it (as Batch does). */
interface RegistryRecord {
  readonly id: string;
  readonly request: ExecutionRequest;
  readonly jobType: string;
  readonly command: readonly string[];
  readonly jobQueueName: string;
  readonly priority: number;
  readonly seq: number;
  readonly createdAt: number;
  readonly parentId?: string;
  readonly arrayIndex?: number;
  readonly childIds?: readonly string[];
  readonly status: Status;
  readonly statusReason?: string;
  readonly startedAt?: number;
  readonly stoppedAt?: number;
  readonly exitCode?: number;
  readonly signal?: NodeJS.Signals;
  readonly taskId?: string;
  readonly logStream?: string;
  readonly terminateReason?: string;
  readonly timedOut?: boolean;
  readonly pid?: number;
}

/**
 * Runs the job's command and records its exit status in a file, so that a job that outlives a crashed service
 * still reports how it ended. The wrapper's traps only defer a TERM/INT/HUP until the command (which gets default
 * signal handling: traps are reset on exec) has ended; SIGKILL of the process group ends both.
 */
const EXIT_STATUS_WRAPPER =
  'f=$1; shift; trap : TERM INT HUP; "$@"; c=$?; printf "%s\\n" "$c" > "$f.tmp" && mv -f "$f.tmp" "$f"; exit "$c"';
/** How often an adopted process (started before a restart) is checked. */
const ADOPTED_POLL_MS = 250;

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
  readonly #workerCommand: readonly string[];
  readonly #processListener: ProcessListener | undefined;

  readonly #jobs = new Map<string, LocalJob>();
  /** Top-level ids in the order they finished, for forgetting old ones. */
  readonly #finished: string[] = [];
  readonly #runnable: LocalJob[] = [];
  readonly #running = new Set<LocalJob>();
  readonly #exits = new Set<Promise<void>>();
  readonly #registryDir: string;
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
    this.#workerCommand = options.workerCommand ?? defaultLocalWorkerCommand();
    this.#registryDir = join(this.#dataDir, 'executor');
    mkdirSync(this.#registryDir, { recursive: true });
    this.#processListener = options.processListener;
    process.on('exit', this.#onProcessExit);
    this.#recover();
  }

  async submit(request: ExecutionRequest): Promise<ExecutionHandle> {
    if (this.#closing) throw new Error('LocalExecutor is shut down');
    const jobType = this.#catalog.jobType(request.jobType);
    const userCommand = jobType.localCommand ?? jobType.command;
    // Chunks and packs run under the worker runtime, as the job definition's entrypoint does on Batch.
    const command = request.environment[WorkerEnv.role]
      ? [...this.#workerCommand, '--', ...userCommand]
      : userCommand;
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
    // Recorded before the handle is returned: a job the caller may have been told about is never forgotten.
    this.#persist(job);
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
    // STARTING is recorded before the spawn: after a crash, a STARTING job without a pid may or may not have started,
    // so it is reported lost (the retry policy decides), never started a second time.
    this.#setStatus(job, ExecutorStatus.Starting);

    const logFile = localLogFile(this.#dataDir, job.request.jobId, job.id);
    const [file, ...args] = job.command;
    const environment = this.#environment(job);
    if (!file || !commandExists(file, environment.PATH, this.#cwd)) {
      this.#finish(job, ExecutorStatus.Failed, `CannotStartContainerError: spawn ${file ?? ''} ENOENT`);
      return;
    }
    // Without timestamps the job writes straight into its log file, so it keeps running (and logging) if this
    // process dies; with timestamps its output goes through a pipe here.
    let out: WriteStream | undefined;
    let logFd: number | undefined;
    try {
      mkdirSync(join(this.#dataDir, 'logs', job.request.jobId), { recursive: true });
      if (this.#timestampLogs) out = createWriteStream(logFile, { flags: 'a' });
      else logFd = openSync(logFile, 'a');
    } catch (error) {
      this.#finish(job, ExecutorStatus.Failed, `CannotStartContainerError: ${errorMessage(error)}`);
      return;
    }
    out?.on('error', (error) =>
      this.#log.warn('job log write failed', { logFile, error: errorMessage(error) }),
    );

    const wrapped = process.platform !== 'win32';
    rmSync(this.#exitFile(job.id), { force: true });
    let child: ChildProcess;
    try {
      child = spawn(
        wrapped ? '/bin/sh' : file,
        wrapped ? ['-c', EXIT_STATUS_WRAPPER, 'offpeak-job', this.#exitFile(job.id), file, ...args] : args,
        {
          cwd: this.#cwd,
          env: environment,
          stdio: ['ignore', logFd ?? 'pipe', logFd ?? 'pipe'],
          // Own process group: signals reach the command's children too (`sh -c 'sleep …'`), and the job outlives
          // a crash of this process, as a Batch job outlives its control plane.
          detached: process.platform !== 'win32',
          windowsHide: true,
        },
      );
    } catch (error) {
      out?.end();
      this.#finish(job, ExecutorStatus.Failed, `CannotStartContainerError: ${errorMessage(error)}`);
      return;
    } finally {
      if (logFd !== undefined) closeSync(logFd);
    }
    job.process = child;
    if (child.pid !== undefined) {
      job.pid = child.pid;
      this.#persist(job);
    }

    let settle!: () => void;
    const exited = new Promise<void>((r) => {
      settle = r;
    });
    this.#exits.add(exited);
    const sources: Readable[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream || !out) continue;
      const source = stream.pipe(new TimestampLines(this.#clock));
      source.pipe(out, { end: false });
      sources.push(source);
    }
    // The terminal event is sent only once the log file holds everything the process wrote.
    const done = (finish: () => void) => {
      for (const timer of job.timers.splice(0)) clearTimeout(timer);
      const drained = Promise.all(sources.map((s) => new Promise<void>((r) => finished(s, () => r()))));
      void within(drained, STDIO_DRAIN_MS)
        .then(() => (out ? new Promise<void>((r) => finished(out.end(), () => r())) : undefined))
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
      this.#armTimeout(job);
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
      const info = processInfo();
      if (info) this.#processListener?.exited(info);
      done(() => this.#ended(job, code, signal));
    });
  }

  /** Kills the job when its attempt duration is over (Batch's `timeout.attemptDurationSeconds`). */
  #armTimeout(job: LocalJob): void {
    const timeoutMs =
      job.request.timeoutSeconds * 1000 - (this.#clock.now().getTime() - (job.startedAt ?? 0));
    if (!Number.isFinite(timeoutMs)) return;
    job.timers.push(
      setTimeout(
        () => {
          job.timedOut = true;
          this.#persist(job);
          this.#kill(job);
        },
        Math.max(0, timeoutMs),
      ),
    );
  }

  /** The job's process ended with `code` (or `signal`): SUCCEEDED or FAILED, as Batch reports it. */
  #ended(job: LocalJob, code: number | null, signal: NodeJS.Signals | null): void {
    // Through the wrapper, a command killed by a signal exits 128 + n.
    const bySignal = signal ?? (code !== null && code > 128 ? signalName(code - 128) : undefined);
    job.exitCode = code ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : undefined);
    if (bySignal && (signal || job.terminateReason || job.timedOut)) job.signal = bySignal;
    const reason = job.terminateReason ?? (job.timedOut ? TIMEOUT_REASON : EXITED_REASON);
    const status =
      code === 0 && !job.terminateReason && !job.timedOut ? ExecutorStatus.Succeeded : ExecutorStatus.Failed;
    this.#finish(job, status, reason);
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
    if (child && (child.exitCode !== null || child.signalCode !== null)) return;
    const pid = child?.pid ?? (job.adopted ? job.pid : undefined);
    if (pid === undefined) return;
    try {
      if (process.platform === 'win32') child?.kill(signal);
      else process.kill(-pid, signal);
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
    job.adopted = false;
    job.stoppedAt = this.#clock.now().getTime();
    job.statusReason = reason;
    this.#setStatus(job, status);
    rmSync(this.#exitFile(job.id), { force: true });
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
      for (const childId of job.childIds ?? []) {
        this.#jobs.delete(childId);
        rmSync(this.#recordFile(childId), { force: true });
      }
      this.#jobs.delete(job.id);
      rmSync(this.#recordFile(job.id), { force: true });
    }
  }

  #setStatus(job: LocalJob, status: Status): void {
    job.status = status;
    this.#persist(job);
    this.#emit(job);
  }

  // ── registry: what a restarted executor knows ──────────────────────────────────────────────────────────────

  #recordFile(id: string): string {
    return join(this.#registryDir, `${fileSafe(id)}.json`);
  }

  #exitFile(id: string): string {
    return join(this.#registryDir, `${fileSafe(id)}.exit`);
  }

  /** Writes the job's record (atomically: a crash leaves the old or the new record, never half of one). */
  #persist(job: LocalJob): void {
    const record: RegistryRecord = {
      id: job.id,
      request: job.request,
      jobType: job.jobType.name,
      command: job.command,
      jobQueueName: job.jobQueueName,
      priority: job.priority,
      seq: job.seq,
      createdAt: job.createdAt,
      status: job.status,
      ...(job.parentId !== undefined ? { parentId: job.parentId } : {}),
      ...(job.arrayIndex !== undefined ? { arrayIndex: job.arrayIndex } : {}),
      ...(job.childIds !== undefined ? { childIds: job.childIds } : {}),
      ...(job.statusReason !== undefined ? { statusReason: job.statusReason } : {}),
      ...(job.startedAt !== undefined ? { startedAt: job.startedAt } : {}),
      ...(job.stoppedAt !== undefined ? { stoppedAt: job.stoppedAt } : {}),
      ...(job.exitCode !== undefined ? { exitCode: job.exitCode } : {}),
      ...(job.signal !== undefined ? { signal: job.signal } : {}),
      ...(job.taskId !== undefined ? { taskId: job.taskId } : {}),
      ...(job.logStream !== undefined ? { logStream: job.logStream } : {}),
      ...(job.terminateReason !== undefined ? { terminateReason: job.terminateReason } : {}),
      ...(job.timedOut ? { timedOut: true } : {}),
      ...(job.pid !== undefined ? { pid: job.pid } : {}),
    };
    const file = this.#recordFile(job.id);
    try {
      writeFileSync(`${file}.tmp`, JSON.stringify(record));
      renameSync(`${file}.tmp`, file);
    } catch (error) {
      this.#log.warn('could not record an executor job', {
        executorJobId: job.id,
        error: errorMessage(error),
      });
    }
  }

  /**
   * Reads the registry a previous instance left (after a crash or a restart), as Batch still knows its jobs when
   * its caller restarts: finished jobs are described as they ended; a job whose process still runs is adopted and
   * watched; one that ended meanwhile reports its recorded exit status; one that had not started yet starts now;
   * one caught starting (it may or may not have started) is reported lost rather than started twice.
   */
  #recover(): void {
    let names: string[];
    try {
      names = readdirSync(this.#registryDir).filter((name) => name.endsWith('.json'));
    } catch {
      return;
    }
    const records: RegistryRecord[] = [];
    for (const name of names) {
      try {
        records.push(JSON.parse(readFileSync(join(this.#registryDir, name), 'utf8')) as RegistryRecord);
      } catch (error) {
        this.#log.warn('unreadable executor record; skipped', { file: name, error: errorMessage(error) });
      }
    }
    records.sort((a, b) => a.seq - b.seq);
    const recovered: LocalJob[] = [];
    for (const record of records) {
      let jobType: CatalogJobType;
      try {
        jobType = this.#catalog.jobType(record.jobType);
      } catch {
        // A type removed from the catalog since: the job is still described (and still ends) as recorded.
        jobType = {
          ...JobTypeSpecSchema.parse({
            name: record.jobType,
            image: 'unknown',
            command: [...record.command],
          }),
          version: 'unknown',
        };
      }
      const job: LocalJob = {
        ...record,
        jobType,
        command: [...record.command],
        timers: [],
      };
      this.#jobs.set(job.id, job);
      this.#seq = Math.max(this.#seq, record.seq + 1);
      if (terminalStatuses.has(job.status)) {
        if (job.parentId === undefined) this.#finished.push(job.id);
      } else {
        recovered.push(job);
      }
    }
    // Children of an array job the crash came before.
    for (const parent of recovered.filter((j) => j.childIds)) {
      parent.childIds?.forEach((childId, index) => {
        if (this.#jobs.has(childId)) return;
        const child: LocalJob = {
          request: parent.request,
          jobType: parent.jobType,
          command: parent.command,
          jobQueueName: parent.jobQueueName,
          priority: parent.priority,
          id: childId,
          seq: this.#seq++,
          createdAt: this.#clock.now().getTime(),
          status: ExecutorStatus.Pending,
          parentId: parent.id,
          arrayIndex: index,
          timers: [],
        };
        this.#jobs.set(childId, child);
        recovered.push(child);
      });
    }
    if (recovered.length > 0) {
      this.#log.info('Local executor recovered jobs from before a restart', { jobs: recovered.length });
    }
    for (const job of recovered) {
      if (job.childIds) {
        if (job.status === ExecutorStatus.Submitted) this.#setStatus(job, ExecutorStatus.Pending);
        continue;
      }
      const exit = this.#readExitFile(job.id);
      if (exit !== undefined) {
        this.#running.add(job);
        this.#ended(job, exit, null);
      } else if (job.status === ExecutorStatus.Running || job.status === ExecutorStatus.Starting) {
        if (job.pid !== undefined && processAlive(job.pid)) this.#adopt(job);
        else {
          this.#running.add(job);
          this.#finish(
            job,
            ExecutorStatus.Failed,
            job.pid === undefined
              ? 'Host lost: the local service stopped while the job was starting'
              : 'Host lost: the job process ended without an exit status',
          );
        }
      } else {
        this.#enqueue(job);
      }
    }
    // An array job whose children all ended meanwhile ends now.
    for (const parent of recovered.filter((j) => j.childIds)) this.#childFinished(parent.id);
    setImmediate(() => this.#pump());
  }

  /** Watches a job process started before a restart until it ends, reading its exit status from the wrapper. */
  #adopt(job: LocalJob): void {
    job.adopted = true;
    this.#running.add(job);
    let settle!: () => void;
    const exited = new Promise<void>((r) => {
      settle = r;
    });
    this.#exits.add(exited);
    const poll = setInterval(() => {
      const exit = this.#readExitFile(job.id);
      const gone = exit === undefined && (job.pid === undefined || !processAlive(job.pid));
      if (exit === undefined && !gone) return;
      clearInterval(poll);
      for (const timer of job.timers.splice(0)) clearTimeout(timer);
      if (exit !== undefined) this.#ended(job, exit, null);
      else
        this.#finish(job, ExecutorStatus.Failed, 'Host lost: the job process ended without an exit status');
      this.#exits.delete(exited);
      settle();
    }, ADOPTED_POLL_MS);
    poll.unref();
    job.timers.push(poll as unknown as NodeJS.Timeout);
    if (job.status === ExecutorStatus.Starting) this.#setStatus(job, ExecutorStatus.Running);
    this.#armTimeout(job);
    this.#log.info('Local executor adopted a running job process', { executorJobId: job.id, pid: job.pid });
  }

  #readExitFile(id: string): number | undefined {
    try {
      const code = Number(readFileSync(this.#exitFile(id), 'utf8').trim());
      return Number.isInteger(code) ? code : undefined;
    } catch {
      return undefined;
    }
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

/** True when `file` would be found and run: a path to an executable, or a name on `PATH`. */
function commandExists(file: string, path: string | undefined, cwd: string): boolean {
  const executable = (candidate: string) => {
    try {
      accessSync(candidate, fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (process.platform === 'win32') return true; // PATHEXT lookups: let spawn report a missing command
  if (file.includes('/')) return executable(isAbsolute(file) ? file : resolve(cwd, file));
  return (path ?? '').split(delimiter).some((dir) => dir !== '' && executable(join(dir, file)));
}

/** True while a process with this id exists (a zombie counts as ended). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no procfs (macOS): kill(0) is all there is
  }
}

function signalName(number: number): NodeJS.Signals | undefined {
  return (Object.entries(osConstants.signals) as [NodeJS.Signals, number][]).find(
    ([, n]) => n === number,
  )?.[0];
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
