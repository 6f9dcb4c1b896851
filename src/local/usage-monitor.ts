import { type Clock, systemClock } from '../core/clock.js';
import { type Log, silentLog } from '../core/deps.js';
import type { Heartbeat } from '../core/services/heartbeat.js';
import type { JobProcessInfo, ProcessListener } from './local-executor.js';
import { sampleProcessGroups } from './process-usage.js';

export interface LocalUsageMonitorOptions {
  /**
   * Delivers a heartbeat for a job (the local service records it with `recordHeartbeat`). Resolves false when
   * the job does not have the attempt yet (the process started before the dispatcher recorded it): the report is
   * tried again shortly.
   */
  readonly report: (jobId: string, heartbeat: Heartbeat) => Promise<boolean>;
  /** How often running job processes are sampled. @default 1_000 */
  readonly sampleMs?: number;
  /** How often a running attempt's usage is written to its job (and always once when it ends). @default 5_000 */
  readonly reportMs?: number;
  readonly clock?: Clock;
  readonly log?: Log;
}

/** A job process can start before its attempt is recorded; a report waits up to ~14 s for it. */
const RECORD_TRIES = 10;

interface AttemptUsage {
  readonly jobId: string;
  readonly attempt: number;
  /** The attempt's executor job (an array parent for chunks). */
  readonly executorJobId: string;
  /** Live processes: pid → the most CPU seen for its group. */
  readonly processes: Map<number, number>;
  /** CPU of the attempt's processes that already ended. */
  endedCpuSeconds: number;
  peakRssBytes: number;
  lastReportAt: number;
  reports: Promise<unknown>;
}

/**
 * Measures what local job processes use, as Batch's worker runtime reports it on AWS: CPU seconds and peak
 * resident memory of each job's process group (the job and everything it started), sampled every `sampleMs`
 * from /proc (or ps), and written to the job's attempt as a heartbeat every `reportMs` and when the attempt
 * ends. Array children are left to the worker runtime they run (see `started`). A job shorter than one sample
 * interval reports what the samples saw (possibly 0).
 */
export class LocalUsageMonitor implements ProcessListener {
  readonly #report: LocalUsageMonitorOptions['report'];
  readonly #sampleMs: number;
  readonly #reportMs: number;
  readonly #clock: Clock;
  readonly #log: Log;
  readonly #attempts = new Map<string, AttemptUsage>();
  readonly #byPid = new Map<number, AttemptUsage>();
  /** Reports not settled yet, of running and of ended attempts (close waits for all of them). */
  readonly #pending = new Set<Promise<unknown>>();
  #timer: NodeJS.Timeout | undefined;
  #sampling: Promise<void> | undefined;
  #closed = false;

  constructor(options: LocalUsageMonitorOptions) {
    this.#report = options.report;
    this.#sampleMs = options.sampleMs ?? 1_000;
    this.#reportMs = options.reportMs ?? 5_000;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? silentLog;
  }

  started(info: JobProcessInfo): void {
    // An array child (a chunk, or a pack of small jobs) runs the worker runtime, which records its own use in the
    // chunk's checkpoint; the tracker adds finished chunks to the attempt, as on AWS.
    if (info.parentExecutorJobId !== undefined) return;
    const executorJobId = info.executorJobId;
    const key = `${info.jobId}#${info.attempt}#${executorJobId}`;
    let usage = this.#attempts.get(key);
    if (!usage) {
      usage = {
        jobId: info.jobId,
        attempt: info.attempt,
        executorJobId,
        processes: new Map(),
        endedCpuSeconds: 0,
        peakRssBytes: 0,
        lastReportAt: this.#clock.now().getTime(),
        reports: Promise.resolve(),
      };
      this.#attempts.set(key, usage);
    }
    usage.processes.set(info.pid, 0);
    this.#byPid.set(info.pid, usage);
    this.#timer ??= setInterval(() => void this.sampleNow(), this.#sampleMs);
    this.#timer.unref();
    void this.sampleNow();
  }

  exited(info: JobProcessInfo): void {
    const usage = this.#byPid.get(info.pid);
    if (!usage) return;
    this.#byPid.delete(info.pid);
    usage.endedCpuSeconds += usage.processes.get(info.pid) ?? 0;
    usage.processes.delete(info.pid);
    if (usage.processes.size === 0) {
      this.#attempts.delete(`${usage.jobId}#${usage.attempt}#${usage.executorJobId}`);
      this.#send(usage);
    }
    if (this.#byPid.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /** Takes one sample of every running job now (also runs on the timer). */
  sampleNow(): Promise<void> {
    this.#sampling ??= this.#sample().finally(() => {
      this.#sampling = undefined;
    });
    return this.#sampling;
  }

  /**
   * Stops sampling and waits for every report already sent, including the final ones of attempts whose processes
   * just ended (the store may be closed right after this). Nothing is reported after it.
   */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#sampling;
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  async #sample(): Promise<void> {
    const samples = await sampleProcessGroups(new Set(this.#byPid.keys()));
    const now = this.#clock.now().getTime();
    for (const usage of new Set(this.#byPid.values())) {
      let rss = 0;
      for (const pid of usage.processes.keys()) {
        const sample = samples.get(pid);
        if (!sample) continue;
        // CPU of a group only grows; a smaller reading means part of it ended unreaped, so keep the most seen.
        usage.processes.set(pid, Math.max(usage.processes.get(pid) ?? 0, sample.cpuSeconds));
        rss += sample.rssBytes;
      }
      usage.peakRssBytes = Math.max(usage.peakRssBytes, rss);
      if (now - usage.lastReportAt >= this.#reportMs) this.#send(usage);
    }
  }

  async #deliver(jobId: string, heartbeat: Heartbeat): Promise<void> {
    for (let attempt = 0; attempt < RECORD_TRIES; attempt++) {
      if (attempt > 0 && this.#closed) return; // shutting down: no retries (the final report was tried once)
      if (await this.#report(jobId, heartbeat)) return;
      await new Promise((r) => setTimeout(r, 250 * (attempt + 1)));
    }
  }

  #send(usage: AttemptUsage): void {
    if (this.#closed) return;
    usage.lastReportAt = this.#clock.now().getTime();
    let cpu = usage.endedCpuSeconds;
    for (const seconds of usage.processes.values()) cpu += seconds;
    const heartbeat: Heartbeat = {
      attempt: usage.attempt,
      executorJobId: usage.executorJobId,
      usage: {
        cpuSeconds: Math.round(cpu * 100) / 100,
        peakMemoryMiB: Math.round((usage.peakRssBytes / 1_048_576) * 10) / 10,
        sampledAt: this.#clock.now().toISOString(),
      },
    };
    // One report at a time per attempt, in order: the last one written is the latest.
    const report = usage.reports
      .then(() => this.#deliver(usage.jobId, heartbeat))
      .catch((error: unknown) =>
        this.#log.warn('Could not record job resource usage', { jobId: usage.jobId, error: String(error) }),
      );
    usage.reports = report;
    this.#pending.add(report);
    void report.finally(() => this.#pending.delete(report));
  }
}
