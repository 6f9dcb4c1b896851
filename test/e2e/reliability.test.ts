import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  expectedStates,
  type RunFigures,
  runScenario,
  type Scenario,
} from '../support/reliability-workload.js';

// The proofs of issue 6 at the size of `npm test` (docs/reliability.md; `npm run soak` runs them big): the local
// service runs as a child process, a mixed workload (plain, urgent, failing, flaky, retry-after and dependent jobs)
// goes in through the HTTP API, and the persisted data is checked afterwards without any repair.
const dirs: string[] = [];
const figures: RunFigures[] = [];

async function scenario(options: Omit<Scenario, 'dataDir'>) {
  const dataDir = await mkdtemp(join(tmpdir(), `offpeak-${options.name}-`));
  dirs.push(dataDir);
  const result = await runScenario({ ...options, dataDir });
  figures.push(result.figures);
  return result;
}

afterAll(async () => {
  mkdirSync('test-output', { recursive: true });
  writeFileSync('test-output/reliability-e2e.json', `${JSON.stringify(figures, null, 2)}\n`);
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('reliability under faults (child-process local service)', () => {
  it('crash-restart: kill -9 three times during 40 mixed jobs — every job terminal, none lost or doubled, no attempt run twice, slots exact', async () => {
    const { figures: f, problems } = await scenario({
      name: 'crash-restart',
      jobs: 40,
      kills: 3,
      paceMs: 60,
    });
    expect(problems).toEqual([]);
    expect(f).toMatchObject({
      jobs: 40,
      kills: 3,
      lost: 0,
      duplicateJobs: 0,
      attemptsRunTwice: 0,
      overAttempts: 0,
      nonTerminal: 0,
      slotsInUse: 0,
    });
    // Four failing jobs per forty end as dead letters.
    expect(f.deadLetters).toBeGreaterThanOrEqual(4);
  });

  it('duplicates and disorder: every message delivered twice, events shuffled — exactly the final states of a clean run', async () => {
    const {
      figures: f,
      problems,
      states,
      plan,
    } = await scenario({
      name: 'duplicates-disorder',
      jobs: 20,
      faults: { duplicateMessages: true, shuffleEvents: true, seed: 7 },
    });
    expect(problems).toEqual([]);
    expect(states).toEqual(expectedStates(plan));
    expect(f.faults?.duplicatesInjected).toBeGreaterThan(30);
    expect(f.faults?.batchesShuffled).toBeGreaterThan(0);
  });

  it('throttling: 20% of DynamoDB writes, SQS calls and executor calls fail — the run completes with the same final states', async () => {
    const {
      figures: f,
      problems,
      states,
      plan,
    } = await scenario({
      name: 'throttling',
      jobs: 12,
      faults: { dynamoThrottle: 0.2, sqsThrottle: 0.2, batchThrottle: 0.2, seed: 11 },
    });
    expect(problems).toEqual([]);
    expect(states).toEqual(expectedStates(plan));
    expect(f.faults?.dynamoThrottled).toBeGreaterThan(10);
    expect(f.faults?.sqsThrottled).toBeGreaterThan(10);
    expect(f.faults?.batchThrottled).toBeGreaterThan(0);
  });
});
