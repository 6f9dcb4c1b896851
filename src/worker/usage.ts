import { readFileSync } from 'node:fs';

/** CPU seconds and peak resident memory of the worker and the command it runs. */
export interface ResourceUsage {
  readonly cpuSeconds: number;
  readonly peakRssBytes: number;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/**
 * Samples resource use. The command's CPU and peak RSS come from `/proc/<pid>` while it runs (Linux, as on
 * Fargate); elsewhere only the worker's own use is reported. Peaks are kept across samples.
 */
export class UsageSampler {
  #childCpu = 0;
  #peakChild = 0;

  sample(childPid: number | undefined): ResourceUsage {
    if (childPid !== undefined) {
      this.#childCpu = Math.max(this.#childCpu, procCpuSeconds(childPid) ?? 0);
      this.#peakChild = Math.max(this.#peakChild, procPeakRss(childPid) ?? 0);
    }
    const self = process.cpuUsage();
    return {
      cpuSeconds: round((self.user + self.system) / 1e6 + this.#childCpu),
      // /proc/self VmHWM starts at exec; getrusage's maxRSS keeps the spawning parent's peak across fork + exec.
      peakRssBytes: Math.max(
        procPeakRss(process.pid) ?? process.resourceUsage().maxRSS * 1024,
        this.#peakChild,
      ),
    };
  }

  /** A finished command's totals are final; the next command (a new window) adds to them. */
  commandEnded(): void {
    this.#carried += this.#childCpu;
    this.#childCpu = 0;
  }

  #carried = 0;

  total(childPid: number | undefined): ResourceUsage {
    const now = this.sample(childPid);
    return { ...now, cpuSeconds: round(now.cpuSeconds + this.#carried) };
  }
}

function procCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const cutime = Number(fields[13]);
    const cstime = Number(fields[14]);
    return (utime + stime + cutime + cstime) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

function procPeakRss(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmHWM:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
