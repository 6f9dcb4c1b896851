/**
 * `npm run soak`: the long reliability runs of issue 6 (docs/reliability.md), on the local service as a child
 * process, each on a fresh data directory:
 *
 * 1. baseline — the workload without faults (its final states are the reference);
 * 2. crash-restart — kill -9 at random moments (≥ 20 times) while jobs are submitted and run, plus crashes injected
 *    at the named crash points of the core services, restarting each time;
 * 3. duplicates and disorder — every message delivered twice, events delayed and shuffled;
 * 4. throttling — 20% of DynamoDB writes, SQS calls and executor calls fail;
 * 5. everything at once — all of the above and 10% of the Batch events dropped.
 *
 * Each run is checked (every job terminal, none lost or doubled, no attempt executed twice, none beyond its
 * attempts, slot counters exact, every FAILED job dead-lettered, no effects pending), and the runs without crashes
 * must end in exactly the baseline's final states. Prints a table, writes test-output/soak.json, exits 1 on any
 * broken promise.
 *
 * Options (environment): SOAK_JOBS (default 300), SOAK_KILLS (default 24).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crashPointNames } from '../src/core/crash-point.js';
import {
  type RunFigures,
  runScenario,
  type Scenario,
  type ScenarioResult,
} from '../test/support/reliability-workload.js';

const jobs = Number(process.env.SOAK_JOBS ?? 300);
const kills = Number(process.env.SOAK_KILLS ?? 24);

const scenarios: Omit<Scenario, 'dataDir'>[] = [
  { name: 'baseline', jobs },
  {
    name: 'crash-restart',
    jobs,
    kills,
    killGapMs: [1_000, 4_000],
    paceMs: 120,
    faults: { crash: { points: [...crashPointNames], probability: 0.002 } },
    settleMs: 600_000,
  },
  { name: 'duplicates-disorder', jobs, faults: { duplicateMessages: true, shuffleEvents: true } },
  {
    name: 'throttling',
    jobs,
    faults: { dynamoThrottle: 0.2, sqsThrottle: 0.2, batchThrottle: 0.2 },
    settleMs: 900_000,
  },
  {
    name: 'everything',
    jobs,
    kills: Math.ceil(kills / 3),
    paceMs: 60,
    faults: {
      duplicateMessages: true,
      shuffleEvents: true,
      dropEvents: 0.1,
      dynamoThrottle: 0.2,
      sqsThrottle: 0.2,
      batchThrottle: 0.2,
      crash: { points: [...crashPointNames], probability: 0.001 },
    },
    settleMs: 900_000,
  },
];

const results: ScenarioResult[] = [];
const failures: string[] = [];
for (const scenario of scenarios) {
  const dataDir = await mkdtemp(join(tmpdir(), `offpeak-soak-${scenario.name}-`));
  process.stdout.write(`${scenario.name}: ${scenario.jobs} jobs, ${scenario.kills ?? 0} kills …\n`);
  try {
    const result = await runScenario({ ...scenario, dataDir });
    results.push(result);
    for (const problem of result.problems) failures.push(`${scenario.name}: ${problem}`);
    const baseline = results.find((r) => r.figures.name === 'baseline');
    const crashed = result.figures.kills > 0 || result.figures.crashes > 0;
    if (baseline && result !== baseline && !crashed) {
      const differing = Object.keys(baseline.states).filter((k) => baseline.states[k] !== result.states[k]);
      if (differing.length > 0) {
        failures.push(
          `${scenario.name}: ${differing.length} final states differ from the baseline (${differing
            .slice(0, 5)
            .map((k) => `${k} ${baseline.states[k]} vs ${result.states[k]}`)
            .join(', ')})`,
        );
      }
    }
    process.stdout.write(`  ${summary(result.figures)}\n`);
    await rm(dataDir, { recursive: true, force: true });
  } catch (error) {
    failures.push(
      `${scenario.name}: ${error instanceof Error ? error.message : String(error)} (data kept in ${dataDir})`,
    );
  }
}

function summary(f: RunFigures): string {
  const faults = f.faults
    ? Object.entries(f.faults)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${k}=${n}`)
        .join(' ')
    : 'none';
  return (
    `${f.jobs} jobs, ${f.executions} executions, ${f.kills} kills + ${f.crashes} injected crashes (${f.restarts} restarts), ` +
    `lost ${f.lost}, duplicate jobs ${f.duplicateJobs}, attempts run twice ${f.attemptsRunTwice}, over attempts ${f.overAttempts}, ` +
    `non-terminal ${f.nonTerminal}, slots in use ${f.slotsInUse}, dead letters ${f.deadLetters}, ` +
    `unexpected final states ${f.unexpectedStates}, ${f.seconds} s; faults: ${faults}; repairs: ${JSON.stringify(f.repairs)}`
  );
}

mkdirSync('test-output', { recursive: true });
writeFileSync(
  'test-output/soak.json',
  `${JSON.stringify({ at: new Date().toISOString(), node: process.version, runs: results.map((r) => r.figures), failures }, null, 2)}\n`,
);
if (failures.length > 0) {
  process.stderr.write(`\nSoak FAILED:\n${failures.map((f) => `- ${f}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write('\nSoak passed: every promise held in every run (figures in test-output/soak.json).\n');
