import { ulid } from 'ulid';
import { type Job, JobSchema } from '../../src/core/job.js';
import { JobState } from '../../src/core/job-state.js';

/**
 * A valid job (QUEUED, version 0) created at `at`, with `overrides` applied. The id is a plain (not monotonic)
 * ULID of `at`, so tests can create jobs "in the past" in any order.
 */
export function makeJob(overrides: Partial<Job> = {}, at: Date = new Date()): Job {
  const iso = at.toISOString();
  const state = overrides.state ?? JobState.Queued;
  return JobSchema.parse({
    id: ulid(at.getTime()),
    type: 'hello',
    queue: 'normal',
    priority: 500,
    params: {},
    trigger: { kind: 'api' },
    dependsOn: [],
    state,
    attempt: 0,
    maxAttempts: 3,
    attempts: [],
    history: [{ state, at: iso }],
    holdsSlot: false,
    createdAt: iso,
    updatedAt: iso,
    stateChangedAt: iso,
    version: 0,
    ...overrides,
  });
}

/** A clock tests move by hand. */
export class TestClock {
  #now: number;
  constructor(start: Date | string) {
    this.#now = new Date(start).getTime();
  }
  now(): Date {
    return new Date(this.#now);
  }
  set(at: Date | string): void {
    this.#now = new Date(at).getTime();
  }
  advance(ms: number): void {
    this.#now += ms;
  }
}
