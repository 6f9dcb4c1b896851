/** What one cell of a chunk grid shows: a chunk's state, or the most urgent one of a group of chunks. */
export type ChunkCellState = 'succeeded' | 'pending' | 'running' | 'failed';

/** `Job.chunks.states` characters, in rising urgency (an unknown character counts as pending). */
const BY_CHAR: Readonly<Record<string, ChunkCellState>> = {
  S: 'succeeded',
  '.': 'pending',
  R: 'running',
  F: 'failed',
};
const URGENCY: Readonly<Record<ChunkCellState, number>> = { succeeded: 0, pending: 1, running: 2, failed: 3 };

/** One cell: chunks `first … first + count - 1`. */
export interface ChunkCell {
  readonly state: ChunkCellState;
  readonly first: number;
  readonly count: number;
}

/**
 * The cells of a chunk grid (the CLI's `watch` and the dashboard draw them): one per chunk, or for a job with more
 * chunks than `maxCells`, one per group of consecutive chunks showing the group's most urgent state (failed, then
 * running, then pending, then succeeded). Pure.
 *
 * @example chunkCells('SF.RS', 40) // five cells, one per chunk
 */
export function chunkCells(states: string, maxCells: number): ChunkCell[] {
  if (states.length === 0) return [];
  const per = Math.ceil(states.length / Math.min(maxCells, states.length));
  const cells: ChunkCell[] = [];
  for (let first = 0; first < states.length; first += per) {
    const group = states.slice(first, first + per);
    let state: ChunkCellState = BY_CHAR[group[0] ?? '.'] ?? 'pending';
    for (const c of group) {
      const next = BY_CHAR[c] ?? 'pending';
      if (URGENCY[next] > URGENCY[state]) state = next;
    }
    cells.push({ state, first, count: group.length });
  }
  return cells;
}
