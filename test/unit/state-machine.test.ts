import { describe, expect, it } from 'vitest';
import { ConflictError } from '../../src/core/errors.js';
import { isTerminal, JobState, jobStates } from '../../src/core/job-state.js';
import {
  assertRetryTransition,
  assertTransition,
  canRetryTransition,
  canTransition,
} from '../../src/core/state-machine.js';

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
  FAILED: [], // only a retry or redrive revives it (retryTransitions)
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

  it('has exactly ten states, four of them terminal, none with a way out in the main table', () => {
    expect(jobStates).toHaveLength(10);
    const terminal = jobStates.filter(isTerminal);
    expect(terminal.sort()).toEqual([
      JobState.Cancelled,
      JobState.Failed,
      JobState.Skipped,
      JobState.Succeeded,
    ]);
    for (const state of terminal) {
      expect(jobStates.filter((to) => canTransition(state, to))).toEqual([]);
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

// Only `retryJob` (POST /jobs/{id}/retry, dead-letter redrive) may take a job out of a terminal state.
const retryAllowed: Partial<Record<JobState, JobState[]>> = {
  FAILED: ['QUEUED'],
  CANCELLED: ['QUEUED', 'WAITING'],
};

describe('retry transitions (manual retry and redrive only)', () => {
  it.each(pairs)('%s → %s follows the retry table', (from, to) => {
    const expected = retryAllowed[from]?.includes(to) ?? false;
    expect(canRetryTransition(from, to)).toBe(expected);
    if (expected) expect(() => assertRetryTransition(from, to)).not.toThrow();
    else expect(() => assertRetryTransition(from, to)).toThrow(ConflictError);
  });

  it('stays out of the main table: no event, reconciler or dispatcher can revive a finished job', () => {
    for (const [from, targets] of Object.entries(retryAllowed) as [JobState, JobState[]][]) {
      for (const to of targets) expect(canTransition(from, to)).toBe(false);
    }
    expect(() => assertTransition(JobState.Failed, JobState.Queued)).toThrow(/FAILED to QUEUED/);
  });

  it('never lets a retry leave SUCCEEDED or SKIPPED', () => {
    for (const to of jobStates) {
      expect(canRetryTransition(JobState.Succeeded, to)).toBe(false);
      expect(canRetryTransition(JobState.Skipped, to)).toBe(false);
    }
  });
});
