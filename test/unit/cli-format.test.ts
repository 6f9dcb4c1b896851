import { describe, expect, it } from 'vitest';
import { chunkGrid } from '../../src/cli/format.js';

describe('chunkGrid (offpeak watch)', () => {
  it('draws each chunk in its own state, where it is, with the counts', () => {
    expect(chunkGrid({ states: 'SF.RS' })).toBe('█✗·▒█  2 ok, 1 failed, 1 running, 1 waiting');
  });

  it('groups chunks of a big job, each cell showing its most urgent state', () => {
    const states = `${'S'.repeat(40)}${'S'.repeat(39)}F${'.'.repeat(20)}R${'.'.repeat(19)}`; // 120 chunks
    const grid = chunkGrid({ states }, 40)!; // 3 chunks per cell
    const cells = grid.split('  ')[0]!;
    expect(cells).toHaveLength(40);
    expect(cells.slice(0, 26)).toBe('█'.repeat(26));
    expect(cells[26]).toBe('✗'); // chunks 78-80 hold the failure
    expect(cells[33]).toBe('▒'); // chunks 99-101 hold the running one
    expect(grid.endsWith('79 ok, 1 failed, 1 running, 39 waiting')).toBe(true);
  });

  it('draws nothing for a job without chunks', () => {
    expect(chunkGrid(undefined)).toBeUndefined();
    expect(chunkGrid({ states: '' })).toBeUndefined();
  });
});
