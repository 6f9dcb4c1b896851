import { describe, expect, it } from 'vitest';
import { ConflictError } from '../../src/core/errors.js';
import { isTerminal, JobState, jobStates } from '../../src/core/job-state.js';
import { assertTransition, canTransition } from '../../src/core/state-machine.js';

// The expected table, written out independently of the implementation: any change to the real table must be
// deliberate and show up here.
const allowed: Record<JobState, JobState[]> = {
  WAITING: ['QUEUED', 'SKIPPED', 'CANCELLED'],
  QUEUED: ['SUBMITTING', 'CANCELLED', 'FAILED'],
  SUBMITTING: ['SUBMITTED', 'QUEUED', 'FAILED', 'CANCELLED'],
  SUBMITTED: ['RUNNING', 'SUCCEEDED', 'FAILED', 'RETRY_WAIT', 'CANCELLED', 'QUEUED'],
  RUNNING: ['SUCCEEDED', 'FAILED', 'RETRY_WAIT', 'CANCELLED'],
  RETRY_WAIT: ['QUEUED', 'CANCELLED'],
  SUCCEEDED: [],
  FAILED: ['QUEUED'], // a user retry (issue 5)
  CANCELLED: [],
  SKIPPED: [],
};

const pairs = jobStates.flatMap((from) => jobStates.map((to) => [from, to] as const));

describe('job state machine', () => {
  it.each(pairs)('%s → %s follows the table', (from, to) => {
    const expected = allowed[from].includes(to);
    expect(canTransition(from, to)).toBe(expected);
    if (expected) expect(() => assertTransition(from, to)).not.toThrow();
    else expect(() => assertTransition(from, to)).toThrow(ConflictError);
  });

  it('has exactly ten states, four of them terminal, only FAILED with a way out (a user retry)', () => {
    expect(jobStates).toHaveLength(10);
    const terminal = jobStates.filter(isTerminal);
    expect(terminal.sort()).toEqual([
      JobState.Cancelled,
      JobState.Failed,
      JobState.Skipped,
      JobState.Succeeded,
    ]);
    for (const state of terminal) {
      expect(jobStates.filter((to) => canTransition(state, to))).toEqual(
        state === JobState.Failed ? [JobState.Queued] : [],
      );
    }
  });

  it('lets every non-terminal state be cancelled', () => {
    for (const state of jobStates.filter((s) => !isTerminal(s)))
      expect(canTransition(state, JobState.Cancelled)).toBe(true);
  });

  it('names both states in the error of a forbidden transition', () => {
    expect(() => assertTransition(JobState.Succeeded, JobState.Running)).toThrow(/SUCCEEDED to RUNNING/);
  });
});
