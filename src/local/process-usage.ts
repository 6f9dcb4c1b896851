import { execFile, execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** CPU and memory of one process group at one moment. */
export interface GroupSample {
  /** user + system CPU seconds of the group's live processes and the children they reaped. */
  readonly cpuSeconds: number;
  /** Resident memory of the group's live processes, in bytes. */
  readonly rssBytes: number;
}

let ticksPerSecond: number | undefined;
let pageBytes: number | undefined;

function sysconf(name: string, fallback: number): number {
  try {
    const value = Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim());
    return Number.isFinite(value) && value > 0 ? value : fallback;
  } catch {
    return fallback;
  }
}

/**
 * Samples every process group in `groups` with one pass over `/proc` (Linux), or one `ps` call elsewhere
 * (macOS, BSD). Job processes run in their own group (the executor spawns them detached), so a group is a job
 * and everything it started. Processes that end between samples keep counting through their parent's
 * `cutime`/`cstime` once reaped.
 *
 * @returns group id → sample; groups with no live process are left out.
 */
export async function sampleProcessGroups(groups: ReadonlySet<number>): Promise<Map<number, GroupSample>> {
  if (groups.size === 0) return new Map();
  if (process.platform === 'linux') return sampleProc(groups);
  if (process.platform === 'win32') return new Map();
  return samplePs(groups);
}

async function sampleProc(groups: ReadonlySet<number>): Promise<Map<number, GroupSample>> {
  ticksPerSecond ??= sysconf('CLK_TCK', 100);
  pageBytes ??= sysconf('PAGESIZE', 4096);
  const totals = new Map<number, { ticks: number; pages: number }>();
  const entries = await readdir('/proc').catch(() => [] as string[]);
  await Promise.all(
    entries.map(async (entry) => {
      if (!/^\d+$/.test(entry)) return;
      let stat: string;
      try {
        stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      } catch {
        return; // ended meanwhile
      }
      // The command name (field 2) may contain spaces and parentheses: fields are counted after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const group = Number(fields[2]);
      if (!groups.has(group)) return;
      const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
      const pages = fields[0] === 'Z' ? 0 : Number(fields[21]);
      const total = totals.get(group) ?? { ticks: 0, pages: 0 };
      total.ticks += Number.isFinite(ticks) ? ticks : 0;
      total.pages += Number.isFinite(pages) ? pages : 0;
      totals.set(group, total);
    }),
  );
  const samples = new Map<number, GroupSample>();
  for (const [group, total] of totals) {
    samples.set(group, {
      cpuSeconds: total.ticks / (ticksPerSecond ?? 100),
      rssBytes: total.pages * (pageBytes ?? 4096),
    });
  }
  return samples;
}

async function samplePs(groups: ReadonlySet<number>): Promise<Map<number, GroupSample>> {
  let output: string;
  try {
    ({ stdout: output } = await execFileAsync('ps', ['-A', '-o', 'pgid=,rss=,time=']));
  } catch {
    return new Map();
  }
  const samples = new Map<number, GroupSample>();
  for (const line of output.split('\n')) {
    const [pgid, rss, time] = line.trim().split(/\s+/);
    const group = Number(pgid);
    if (!groups.has(group)) continue;
    const current = samples.get(group) ?? { cpuSeconds: 0, rssBytes: 0 };
    samples.set(group, {
      cpuSeconds: current.cpuSeconds + psTimeSeconds(time ?? ''),
      rssBytes: current.rssBytes + Number(rss ?? 0) * 1024,
    });
  }
  return samples;
}

/** `[[dd-]hh:]mm:ss[.ff]` as ps prints cumulative CPU time. */
export function psTimeSeconds(time: string): number {
  const [days, rest] = time.includes('-') ? time.split('-') : ['0', time];
  const parts = (rest ?? '').split(':').map(Number);
  let seconds = 0;
  for (const part of parts) seconds = seconds * 60 + (Number.isFinite(part) ? part : 0);
  return Number(days) * 86_400 + seconds;
}
