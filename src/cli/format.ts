import { type ChunkCellState, chunkCells } from '../core/observability/chunk-cells.js';
import type { JobProgress } from '../core/observability/progress.js';

/** Colours, off when not a TTY or with NO_COLOR / --no-color. */
export interface Paint {
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

export function paint(enabled: boolean): Paint {
  const wrap = (code: string) => (text: string) => (enabled ? `\x1b[${code}m${text}\x1b[0m` : text);
  return { red: wrap('31'), green: wrap('32'), yellow: wrap('33'), dim: wrap('2'), bold: wrap('1') };
}

/** A fixed-width table; columns sized to their widest cell (ANSI colours do not count). */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const visible = (s: string) => stripAnsi(s).length;
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i] ?? ''))));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) =>
        i === cells.length - 1 ? c : c + ' '.repeat(Math.max(0, (widths[i] ?? 0) - visible(c))),
      )
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** `1h 02m`, `3m 05s`, `12s`, `0.4s`. */
export function duration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '-';
  if (seconds < 10) return `${Math.round(seconds * 10) / 10}s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** `[██████░░░░]  60%` */
export function bar(fraction: number | undefined, width = 20): string {
  if (fraction === undefined) return `[${'·'.repeat(width)}]   ?%`;
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${String(Math.round(fraction * 100)).padStart(3)}%`;
}

/** One line about a job's progress: bar, counts, rate and ETA. */
export function progressLine(progress: JobProgress | undefined): string {
  if (!progress) return bar(undefined);
  const parts = [bar(progress.fraction)];
  if (progress.chunks) {
    const c = progress.chunks;
    parts.push(
      `chunks ${c.done}/${c.total}${c.failed ? ` (${c.failed} failed)` : ''}${c.running ? `, ${c.running} running` : ''}`,
    );
  } else if (progress.records) {
    parts.push(
      `records ${progress.records.done}${progress.records.total !== undefined ? `/${progress.records.total}` : ''}`,
    );
  }
  if (progress.ratePerSecond !== undefined) parts.push(`${progress.ratePerSecond}/s`);
  if (progress.etaSeconds !== undefined) parts.push(`ETA ${duration(progress.etaSeconds)}`);
  else if (progress.elapsedSeconds !== undefined) parts.push(duration(progress.elapsedSeconds));
  return parts.join('  ');
}

/** Glyph and urgency of each chunk state character (`Job.chunks.states`). */
const CHUNK_GLYPHS: Readonly<Record<ChunkCellState, string>> = {
  succeeded: '█',
  pending: '·',
  running: '▒',
  failed: '✗',
};

/**
 * A chunk grid line from the job's per-chunk states (one character per chunk: `.` pending, `R` running, `S`
 * succeeded, `F` failed): one glyph per chunk, or per group of chunks for big jobs (the group's most urgent state),
 * then the counts.
 */
export function chunkGrid(chunks: { readonly states: string } | undefined, width = 40): string | undefined {
  const states = chunks?.states;
  if (!chunks || !states) return undefined;
  const cells = chunkCells(states, width).map((cell) => CHUNK_GLYPHS[cell.state]);
  const count = (c: string) => states.split(c).length - 1;
  return `${cells.join('')}  ${count('S')} ok, ${count('F')} failed, ${count('R')} running, ${count('.')} waiting`;
}

/** A state word coloured by what it means. */
export function stateText(state: string, p: Paint): string {
  if (state === 'SUCCEEDED') return p.green(state);
  if (state === 'FAILED') return p.red(state);
  if (state === 'CANCELLED' || state === 'SKIPPED' || state === 'RETRY_WAIT') return p.yellow(state);
  return state;
}

/** `2026-11-23 10:00:01` in local time, or '-'. */
export function timestamp(iso: string | undefined): string {
  if (!iso) return '-';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Text without ANSI colour codes (their width on screen is zero). */
export function stripAnsi(text: string): string {
  return text.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), '');
}
