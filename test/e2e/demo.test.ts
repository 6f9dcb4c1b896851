import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runDemo } from '../../src/local/demo.js';

describe('npm run demo', () => {
  it('ends every job as expected and reports success', async () => {
    // Prepare
    let printed = '';
    const out = new Writable({
      write(chunk, _encoding, callback) {
        printed += String(chunk);
        callback();
      },
    });

    // Act
    const result = await runDemo({ out, timeoutMs: 45_000 });

    // Assess
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.rows.map((r) => [r.label, r.state, r.exitCode])).toEqual([
      ['hello', 'SUCCEEDED', 0],
      ['hello exit 3', 'FAILED', 3],
      ['nightly-backup', 'SUCCEEDED', 0],
    ]);
    expect(printed).toContain('(the same job)');
    expect(printed).toContain('Demo OK');
  });
});
