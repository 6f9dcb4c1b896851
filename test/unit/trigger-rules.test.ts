import { describe, expect, it } from 'vitest';
import type { JobState } from '../../src/core/job-state.js';
import {
  type DependencyVerdict,
  dependencyVerdict,
  skipReason,
} from '../../src/core/services/dependencies.js';
import type { TriggerRule } from '../../src/core/trigger-rule.js';

const S = (...states: JobState[]) => states.map((state) => ({ state }));

// [dependency states, expected count, verdict per rule: all_success, all_done, one_success, none_failed]
const table: Array<
  [
    string,
    ReturnType<typeof S>,
    number,
    [DependencyVerdict, DependencyVerdict, DependencyVerdict, DependencyVerdict],
  ]
> = [
  ['all succeeded', S('SUCCEEDED', 'SUCCEEDED'), 2, ['release', 'release', 'release', 'release']],
  ['one still running', S('SUCCEEDED', 'RUNNING'), 2, ['wait', 'wait', 'release', 'wait']],
  ['none ended yet', S('QUEUED', 'WAITING'), 2, ['wait', 'wait', 'wait', 'wait']],
  ['one failed, one running', S('FAILED', 'RUNNING'), 2, ['skip', 'wait', 'wait', 'skip']],
  ['one failed, one succeeded', S('FAILED', 'SUCCEEDED'), 2, ['skip', 'release', 'release', 'skip']],
  ['all failed', S('FAILED', 'FAILED'), 2, ['skip', 'release', 'skip', 'skip']],
  ['one skipped, one succeeded', S('SKIPPED', 'SUCCEEDED'), 2, ['skip', 'release', 'release', 'release']],
  ['all skipped', S('SKIPPED', 'SKIPPED'), 2, ['skip', 'release', 'skip', 'release']],
  ['one cancelled, one succeeded', S('CANCELLED', 'SUCCEEDED'), 2, ['skip', 'release', 'release', 'skip']],
  ['one skipped, one running', S('SKIPPED', 'RUNNING'), 2, ['skip', 'wait', 'wait', 'wait']],
  ['one in retry wait', S('RETRY_WAIT', 'SUCCEEDED'), 2, ['wait', 'wait', 'release', 'wait']],
  [
    'one missing (counts as failed), one succeeded',
    S('SUCCEEDED'),
    2,
    ['skip', 'release', 'release', 'skip'],
  ],
  ['one missing, one running', S('RUNNING'), 2, ['skip', 'wait', 'wait', 'skip']],
  ['no dependencies at all', S(), 0, ['release', 'release', 'skip', 'release']],
];
const rules: TriggerRule[] = ['all_success', 'all_done', 'one_success', 'none_failed'];

describe('dependencyVerdict (trigger rules)', () => {
  for (const [name, dependencies, expected, verdicts] of table) {
    it.each(rules.map((rule, i) => [rule, verdicts[i]] as const))(`${name}: %s → %s`, (rule, verdict) => {
      expect(dependencyVerdict(dependencies, expected, rule)).toBe(verdict);
    });
  }

  it('defaults to all_success', () => {
    expect(dependencyVerdict(S('FAILED', 'SUCCEEDED'), 2)).toBe('skip');
    expect(dependencyVerdict(S('SUCCEEDED'), 1)).toBe('release');
  });

  it('names the dependencies that decided a skip', () => {
    const deps = [
      { id: 'A', state: 'FAILED' as const },
      { id: 'B', state: 'SKIPPED' as const },
      { id: 'C', state: 'SUCCEEDED' as const },
    ];
    expect(skipReason('all_success', deps, ['A', 'B', 'C', 'D'])).toBe(
      'a dependency did not succeed (all_success): A FAILED, B SKIPPED, D missing',
    );
    expect(skipReason('none_failed', deps, ['A', 'B', 'C'])).toBe(
      'a dependency did not succeed (none_failed): A FAILED',
    );
    expect(skipReason('one_success', [{ id: 'A', state: 'CANCELLED' }], ['A'])).toBe(
      'no dependency succeeded (one_success): A CANCELLED',
    );
  });
});
