import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAwsClients } from '../../src/aws/clients.js';
import { DynamoDeadLetterStore } from '../../src/aws/dynamo-dead-letter-store.js';
import { DynamoJobStore } from '../../src/aws/dynamo-job-store.js';
import { buildCatalogData, type CatalogData } from '../../src/core/catalog.js';
import type { DeadLetter } from '../../src/core/dead-letter.js';
import type { Settings } from '../../src/core/deps.js';
import type { Job } from '../../src/core/job.js';
import { activeStates, isTerminal, type JobState } from '../../src/core/job-state.js';
import { defineJobType } from '../../src/core/job-type.js';
import { defaultQueues } from '../../src/core/queue-spec.js';
import { queueSlotCounter } from '../../src/core/services/slots.js';
import { startEmulators } from '../../src/local/emulators.js';
import type { FaultConfigInput, FaultStats } from '../../src/local/faults.js';
import { defaultLocalResourceNames } from '../../src/local/resources.js';

/**
 * The reliability workload (issue 6 proofs): a deterministic mix of plain, failing, flaky, "retry after" and
 * dependent jobs whose final states do not depend on timing, run against the local service with faults, and the
 * checks every run must pass — read straight from the persisted data, never through a repair.
 */

/** Every execution appends `<jobId> <attempt> <executorJobId>` here, so executions can be counted per attempt. */
const RECORD_RUN =
  'echo "$OFFPEAK_JOB_ID $OFFPEAK_ATTEMPT $AWS_BATCH_JOB_ID" >> "$OFFPEAK_LOCAL_DIR/runs.log"';
// biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
const sleep = 'sleep "${OFFPEAK_PARAM_SLEEP:-0.2}"';

/** The job types of the workload. */
export const workloadCatalog: CatalogData = buildCatalogData({
  jobTypes: [
    defineJobType({
      name: 'soak-ok',
      image: 'busybox',
      command: ['sh', '-c', `${RECORD_RUN}; ${sleep}; echo ok`],
      retry: { attempts: 3, baseDelaySeconds: 0.5, maxDelaySeconds: 2 },
    }),
    defineJobType({
      name: 'soak-urgent',
      image: 'busybox',
      command: ['sh', '-c', `${RECORD_RUN}; ${sleep}; echo urgent`],
      retry: { attempts: 3, baseDelaySeconds: 0.5, maxDelaySeconds: 2 },
      queue: 'high',
      priority: 900,
    }),
    defineJobType({
      name: 'soak-fail',
      image: 'busybox',
      command: ['sh', '-c', `${RECORD_RUN}; ${sleep}; echo "giving up" >&2; exit 3`],
      retry: { attempts: 2, baseDelaySeconds: 0.5, maxDelaySeconds: 2 },
    }),
    defineJobType({
      name: 'soak-flaky',
      image: 'busybox',
      command: ['sh', '-c', `${RECORD_RUN}; ${sleep}; [ "$OFFPEAK_ATTEMPT" -ge 2 ] || exit 1`],
      retry: { attempts: 4, baseDelaySeconds: 0.5, maxDelaySeconds: 2 },
    }),
    defineJobType({
      name: 'soak-later',
      image: 'busybox',
      command: [
        'sh',
        '-c',
        `${RECORD_RUN}; ${sleep}; if [ "$OFFPEAK_ATTEMPT" -lt 2 ]; then echo 1 > "$OFFPEAK_RETRY_MARKER"; exit 75; fi`,
      ],
      retry: { attempts: 4, baseDelaySeconds: 30, maxDelaySeconds: 60, retryAfterExitCodes: [75] },
    }),
  ],
  queues: defaultQueues,
});

/** One planned submission and the final state it must reach (absent crashes that cost attempts). */
export interface PlannedJob {
  readonly key: string;
  readonly type: string;
  readonly params: Record<string, unknown>;
  /** Index of the planned job this one depends on. */
  readonly dependsOn?: number;
  readonly expected: { readonly state: JobState; readonly attempt: number };
}

/**
 * `count` submissions, the same for the same `count`: per ten, four plain jobs, one urgent, one failing for good,
 * one flaky (fails its first attempt), one asking for a later retry, one depending on a plain job (runs after it)
 * and one depending on a failing job (skipped).
 */
export function planWorkload(count: number, prefix = 'w'): PlannedJob[] {
  const plan: PlannedJob[] = [];
  for (let i = 0; i < count; i++) {
    const sleepSeconds = ((i * 7) % 5) / 10;
    const params = { sleep: sleepSeconds };
    const key = `${prefix}-${i}`;
    const slot = i % 10;
    const plainBefore = [0, 1, 2, 3].map((d) => i - slot + d).filter((j) => j >= 0 && j < i);
    const failBefore = i - slot + 5;
    if (slot === 4)
      plan.push({ key, type: 'soak-urgent', params, expected: { state: 'SUCCEEDED', attempt: 1 } });
    else if (slot === 5)
      plan.push({ key, type: 'soak-fail', params, expected: { state: 'FAILED', attempt: 2 } });
    else if (slot === 6)
      plan.push({ key, type: 'soak-flaky', params, expected: { state: 'SUCCEEDED', attempt: 2 } });
    else if (slot === 7)
      plan.push({ key, type: 'soak-later', params, expected: { state: 'SUCCEEDED', attempt: 2 } });
    else if (slot === 8 && plainBefore.length > 0) {
      plan.push({
        key,
        type: 'soak-ok',
        params,
        dependsOn: plainBefore[0],
        expected: { state: 'SUCCEEDED', attempt: 1 },
      });
    } else if (slot === 9 && failBefore < i) {
      plan.push({
        key,
        type: 'soak-ok',
        params,
        dependsOn: failBefore,
        expected: { state: 'SKIPPED', attempt: 0 },
      });
    } else plan.push({ key, type: 'soak-ok', params, expected: { state: 'SUCCEEDED', attempt: 1 } });
  }
  return plan;
}

/** Core settings that make a local service repair drift within seconds (the soak cannot wait minutes). */
export const fastRepairSettings: Partial<Settings> = {
  submittingTimeoutMs: 3_000,
  staleActiveMs: 3_000,
  effectsGraceMs: 2_000,
  waitingCheckMs: 2_000,
  // A counter still this long is recounted from its holders (2 minutes on AWS): longer than any acquire or release
  // in flight in the local service, even a throttled one retrying with backoff.
  slotRecountSettleMs: 20_000,
};

/**
 * Once every job ended nothing holds a slot: waits until every queue's counter says so. A counter left high (a
 * release lost to a crash or to throttling that outlasted its retries; a stuck submit requeued without knowing which
 * slots it took) is corrected by the reconciler's recount once it has been still for `slotRecountSettleMs` — the
 * promise is exact counters at rest, so the run waits for the recount rather than for luck. Returns on timeout too:
 * the final check then reports the counters as they are.
 */
export async function waitSlotsAtRest(url: () => string | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const base = url();
    if (base) {
      try {
        const response = await fetch(`${base}/queues`);
        const { items } = (await response.json()) as { items: { concurrency: { used: number } }[] };
        if (items.every((q) => q.concurrency.used === 0)) return;
      } catch {
        // down for a moment (a restart): poll again
      }
    }
    await pause(250);
  }
}

/** What the local service child (test/support/service-child.ts) is started with. */
export interface ServiceChildOptions {
  readonly dataDir: string;
  readonly slots?: number;
  readonly faults?: FaultConfigInput;
  readonly settings?: Partial<Settings>;
}

/** A local service in a child process, which the harness can kill -9 and restart on the same data directory. */
export class ServiceProcess {
  #child: ChildProcess | undefined;
  #url: string | undefined;
  /** Restarts caused by an injected crash (the process killed itself at a crash point). */
  crashes = 0;
  starts = 0;

  constructor(readonly options: ServiceChildOptions) {}

  get url(): string {
    if (!this.#url) throw new Error('the service is not running');
    return this.#url;
  }

  /** The URL while it serves (undefined while it is down or starting). */
  get currentUrl(): string | undefined {
    return this.running ? this.#url : undefined;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Starts it and resolves with its URL once it serves HTTP. */
  async start(): Promise<string> {
    const script = join(dirname(fileURLToPath(import.meta.url)), 'service-child.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(this.options)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: resolve(dirname(fileURLToPath(import.meta.url)), '../..'),
    });
    this.#child = child;
    this.starts++;
    let stderr = '';
    const log = createWriteStream(join(this.options.dataDir, 'service-stderr.log'), { flags: 'a' });
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
      log.write(d);
    });
    child.once('exit', () => log.end());
    this.#url = await new Promise<string>((resolveUrl, reject) => {
      let out = '';
      const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
        reject(new Error(`service child exited before it was ready (${code ?? signal}): ${stderr}`));
      const onData = (d: Buffer) => {
        out += d.toString();
        const match = /READY (\S+)/.exec(out);
        if (match?.[1]) {
          child.stdout?.off('data', onData);
          child.off('exit', onExit);
          resolveUrl(match[1]);
        }
      };
      child.stdout?.on('data', onData);
      child.once('exit', onExit);
    });
    child.once('exit', (_code, signal) => {
      if (signal === 'SIGKILL' && !this.#killing) this.crashes++;
    });
    return this.#url;
  }

  #killing = false;

  /** kill -9, as a crash does; resolves once it is gone. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    this.#killing = true;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    this.#killing = false;
    this.#url = undefined;
  }

  /** A clean stop (SIGTERM): the service stops its timers, pollers and job processes. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    this.#url = undefined;
  }

  /** Waits until it died on its own (an injected crash), or `ms` passed. @returns true when it died. */
  async diedWithin(ms: number): Promise<boolean> {
    const child = this.#child;
    if (!child || !this.running) return true;
    return new Promise<boolean>((r) => {
      const onExit = () => {
        clearTimeout(timer);
        r(true);
      };
      // Called again and again while a run waits for crashes: never leave a listener behind.
      const timer = setTimeout(() => {
        child.off('exit', onExit);
        r(false);
      }, ms);
      child.once('exit', onExit);
    });
  }
}

/** What the client side of a run saw: the job id each key got, every time it was answered. */
export class Submissions {
  readonly ids = new Map<string, string>();
  /** A key answered with two different job ids: a duplicate job. */
  readonly conflicts: { key: string; ids: string[] }[] = [];
  attempts = 0;
  failures = 0;

  record(key: string, id: string): void {
    const known = this.ids.get(key);
    if (known && known !== id) this.conflicts.push({ key, ids: [known, id] });
    else this.ids.set(key, id);
  }
}

/**
 * Submits every planned job through the HTTP API, as a careful client does: the same idempotency key on every try,
 * retrying connection errors and 5xx (the service may be down) until answered; a dependent job waits for the id of
 * its dependency. Up to `concurrency` requests at once.
 */
export async function submitAll(
  plan: readonly PlannedJob[],
  url: () => string | undefined,
  submissions: Submissions,
  options: { readonly concurrency?: number; readonly deadlineMs?: number; readonly paceMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + (options.deadlineMs ?? 120_000);
  let next = 0;
  const worker = async () => {
    while (next < plan.length) {
      const index = next++;
      const job = plan[index] as PlannedJob;
      for (;;) {
        if (Date.now() > deadline) throw new Error(`could not submit ${job.key} in time`);
        const dependency = job.dependsOn !== undefined ? plan[job.dependsOn]?.key : undefined;
        const dependencyId = dependency ? submissions.ids.get(dependency) : undefined;
        const base = url();
        if ((dependency && !dependencyId) || !base) {
          await pause(100);
          continue;
        }
        submissions.attempts++;
        try {
          const response = await fetch(`${base}/jobs`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              type: job.type,
              params: job.params,
              idempotencyKey: job.key,
              ...(dependencyId ? { dependsOn: [dependencyId] } : {}),
            }),
            signal: AbortSignal.timeout(10_000),
          });
          if (response.status === 200 || response.status === 201) {
            submissions.record(job.key, ((await response.json()) as { id: string }).id);
            if (options.paceMs) await pause(options.paceMs);
            break;
          }
          if (response.status < 500)
            throw new Error(`${job.key}: ${response.status} ${await response.text()}`);
          submissions.failures++;
        } catch (error) {
          if (error instanceof Error && /: \d{3} /.test(error.message)) throw error;
          submissions.failures++;
        }
        await pause(150);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));
}

/** Polls the API until every job is terminal (or throws with what is still running at the deadline). */
export async function waitAllTerminal(
  url: () => string | undefined,
  count: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const base = url();
    if (base) {
      try {
        const jobs = await listAll(base);
        const open = jobs.filter((j) => !isTerminal(j.state));
        last = `${jobs.length}/${count} jobs, open: ${open
          .map((j) => `${j.id}:${j.type}:${j.state}`)
          .slice(0, 10)
          .join(' ')}`;
        if (jobs.length >= count && open.length === 0) return;
      } catch {
        // down for a moment (a restart): poll again
      }
    }
    await pause(250);
  }
  throw new Error(`not every job ended in time: ${last}`);
}

async function listAll(base: string): Promise<Job[]> {
  const jobs: Job[] = [];
  let cursor: string | undefined;
  do {
    const query = new URLSearchParams({ limit: '100', ...(cursor ? { cursor } : {}) });
    const response = await fetch(`${base}/jobs?${query}`, { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`GET /jobs: ${response.status}`);
    const page = (await response.json()) as { items: Job[]; cursor?: string };
    jobs.push(...page.items);
    cursor = page.cursor;
  } while (cursor);
  return jobs;
}

/** The persisted state of a stopped service's data directory, read without starting (or repairing) anything. */
export interface PersistedState {
  readonly jobs: Job[];
  readonly deadLetters: DeadLetter[];
  /** Offpeak queue → slot counter usage. */
  readonly slots: Record<string, number>;
  /** Executions per job and attempt, from runs.log. */
  readonly runs: Map<string, Map<number, number>>;
}

export async function readPersisted(dataDir: string, catalog: CatalogData): Promise<PersistedState> {
  const emulators = await startEmulators({ dataDir: join(dataDir, 'dynamodb') });
  const clients = createAwsClients({
    region: emulators.region,
    credentials: emulators.credentials,
    endpoints: { dynamodb: emulators.endpoints.dynamodb },
    maxAttempts: 2,
  });
  try {
    const tableName = defaultLocalResourceNames.table;
    const store = new DynamoJobStore({ client: clients.documentClient, tableName, queueOrder: () => 'fifo' });
    const jobs: Job[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listJobs({ limit: 100, ...(cursor ? { cursor } : {}) });
      jobs.push(...page.items);
      cursor = page.cursor;
    } while (cursor);
    const deadLetterStore = new DynamoDeadLetterStore({ client: clients.documentClient, tableName });
    const deadLetters: DeadLetter[] = [];
    for (const status of ['open', 'redriven'] as const) {
      let dlCursor: string | undefined;
      do {
        const page = await deadLetterStore.listDeadLetters({
          status,
          limit: 100,
          ...(dlCursor ? { cursor: dlCursor } : {}),
        });
        deadLetters.push(...page.items);
        dlCursor = page.cursor;
      } while (dlCursor);
    }
    const slots: Record<string, number> = {};
    for (const queue of catalog.queues)
      slots[queue.name] = (await store.slotUsage(queueSlotCounter(queue.name))).used;
    const runs = new Map<string, Map<number, number>>();
    let log = '';
    try {
      log = readFileSync(join(dataDir, 'runs.log'), 'utf8');
    } catch {
      // no job ran
    }
    for (const line of log.split('\n')) {
      const [jobId, attempt] = line.trim().split(' ');
      if (!jobId || !attempt) continue;
      const perJob = runs.get(jobId) ?? new Map<number, number>();
      perJob.set(Number(attempt), (perJob.get(Number(attempt)) ?? 0) + 1);
      runs.set(jobId, perJob);
    }
    return { jobs, deadLetters, slots, runs };
  } finally {
    clients.destroy();
    await emulators.stop();
  }
}

/** The figures of one run, for docs/reliability.md and the report. */
export interface RunFigures {
  readonly name: string;
  readonly jobs: number;
  readonly executions: number;
  readonly kills: number;
  readonly crashes: number;
  readonly restarts: number;
  readonly submitRetries: number;
  readonly lost: number;
  readonly duplicateJobs: number;
  readonly attemptsRunTwice: number;
  readonly overAttempts: number;
  readonly nonTerminal: number;
  readonly slotsInUse: number;
  readonly deadLetters: number;
  readonly repairs: Record<string, number>;
  readonly unexpectedStates: number;
  readonly faults?: FaultStats;
  readonly seconds: number;
}

/** Checks a finished run against the promises of issue 6 and returns its figures; `problems` lists every breach. */
export function checkRun(
  name: string,
  plan: readonly PlannedJob[],
  submissions: Submissions,
  state: PersistedState,
  extra: { kills: number; crashes: number; restarts: number; seconds: number; faults?: FaultStats },
): { figures: RunFigures; problems: string[]; byKey: Map<string, Job> } {
  const problems: string[] = [];
  const byId = new Map(state.jobs.map((j) => [j.id, j]));
  const byKey = new Map<string, Job>();
  for (const job of state.jobs) {
    const key = job.idempotencyKey?.replace(/^[^#]+#/, '');
    if (key) byKey.set(key, job);
  }
  const lost = plan.filter((p) => !submissions.ids.has(p.key) || !byId.has(submissions.ids.get(p.key)!));
  if (lost.length > 0) problems.push(`lost: ${lost.map((p) => p.key).join(', ')}`);
  const duplicateJobs = state.jobs.length - byKey.size + submissions.conflicts.length;
  if (state.jobs.length !== plan.length)
    problems.push(`${state.jobs.length} jobs stored for ${plan.length} submissions`);
  if (submissions.conflicts.length > 0)
    problems.push(`keys with two jobs: ${JSON.stringify(submissions.conflicts)}`);
  const nonTerminal = state.jobs.filter((j) => !isTerminal(j.state));
  if (nonTerminal.length > 0)
    problems.push(`not terminal: ${nonTerminal.map((j) => `${j.id}:${j.state}`).join(', ')}`);
  let executions = 0;
  let attemptsRunTwice = 0;
  let overAttempts = 0;
  for (const [jobId, attempts] of state.runs) {
    const job = byId.get(jobId);
    const total = [...attempts.values()].reduce((a, b) => a + b, 0);
    executions += total;
    for (const [attempt, count] of attempts) {
      if (count > 1) {
        attemptsRunTwice++;
        problems.push(`job ${jobId} attempt ${attempt} ran ${count} times`);
      }
    }
    if (!job || total > job.maxAttempts) {
      overAttempts++;
      problems.push(`job ${jobId} ran ${total} times for ${job?.maxAttempts ?? 'no'} allowed attempts`);
    }
  }
  const holding = state.jobs.filter((j) => j.holdsSlot && activeStates.has(j.state));
  const slotsInUse = Object.values(state.slots).reduce((a, b) => a + b, 0);
  if (slotsInUse !== holding.length) {
    problems.push(`slot counters ${JSON.stringify(state.slots)} but ${holding.length} jobs hold a slot`);
  }
  const failed = state.jobs.filter((j) => j.state === 'FAILED');
  const deadJobs = new Set(state.deadLetters.filter((d) => d.kind === 'job').map((d) => d.jobId));
  const undead = failed.filter((j) => !deadJobs.has(j.id));
  if (undead.length > 0) problems.push(`FAILED without a dead letter: ${undead.map((j) => j.id).join(', ')}`);
  const pending = state.jobs.filter((j) => j.effectsPending);
  if (pending.length > 0) problems.push(`effects pending: ${pending.map((j) => j.id).join(', ')}`);
  const repairs: Record<string, number> = {};
  for (const job of state.jobs)
    for (const r of job.repairs ?? []) repairs[r.repair] = (repairs[r.repair] ?? 0) + 1;
  const unexpectedStates = plan.filter((p) => {
    const job = byKey.get(p.key);
    return !job || job.state !== p.expected.state || job.attempt !== p.expected.attempt;
  }).length;
  return {
    byKey,
    problems,
    figures: {
      name,
      jobs: state.jobs.length,
      executions,
      kills: extra.kills,
      crashes: extra.crashes,
      restarts: extra.restarts,
      submitRetries: submissions.failures,
      lost: lost.length,
      duplicateJobs,
      attemptsRunTwice,
      overAttempts,
      nonTerminal: nonTerminal.length,
      slotsInUse,
      deadLetters: state.deadLetters.length,
      repairs,
      unexpectedStates,
      ...(extra.faults ? { faults: extra.faults } : {}),
      seconds: extra.seconds,
    },
  };
}

/** Final states by key, for comparing two runs of the same plan. */
export function finalStates(byKey: Map<string, Job>): Record<string, string> {
  return Object.fromEntries(
    [...byKey.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, job]) => [key, `${job.state}@${job.attempt}`]),
  );
}

export function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** One proof run: a workload, faults, and how often (and how far apart) the service is killed. */
export interface Scenario {
  readonly name: string;
  readonly jobs: number;
  /** kill -9 this many times, at random moments, restarting each time. @default 0 */
  readonly kills?: number;
  /** Random gap before each kill, in ms. @default [800, 2500] */
  readonly killGapMs?: readonly [number, number];
  /** Pause after each acknowledged submission per client worker, so kills land during submissions. @default 0 */
  readonly paceMs?: number;
  readonly faults?: FaultConfigInput;
  /** How long the jobs may take to end after the last kill. @default 180_000 */
  readonly settleMs?: number;
  readonly dataDir: string;
}

/** What a run found: its figures, every broken promise, and the final state of each planned key. */
export interface ScenarioResult {
  readonly figures: RunFigures;
  readonly problems: string[];
  readonly states: Record<string, string>;
  readonly plan: readonly PlannedJob[];
}

/**
 * Runs a scenario end to end: starts the service (a child process) on a fresh data directory, submits the workload
 * while killing the service `kills` times at random moments (restarting it each time, and after any injected
 * crash), waits until every job ended, stops the service cleanly and checks the persisted data.
 */
export async function runScenario(scenario: Scenario): Promise<ScenarioResult> {
  const started = Date.now();
  const plan = planWorkload(scenario.jobs);
  const service = new ServiceProcess({
    dataDir: scenario.dataDir,
    settings: fastRepairSettings,
    ...(scenario.faults ? { faults: scenario.faults } : {}),
  });
  const submissions = new Submissions();
  try {
    return await drive(scenario, plan, service, submissions, started);
  } finally {
    // Never leave a service behind, whatever failed.
    await service.kill();
  }
}

async function drive(
  scenario: Scenario,
  plan: readonly PlannedJob[],
  service: ServiceProcess,
  submissions: Submissions,
  started: number,
): Promise<ScenarioResult> {
  const url = () => service.currentUrl;
  let kills = 0;
  let stopping = false;
  await service.start();
  // Restarts the service whenever it died (killed here, or an injected crash, even one during its start), until
  // the run is over.
  const keeper = (async () => {
    while (!stopping) {
      if (!service.running) await service.start().catch(() => undefined);
      await service.diedWithin(200);
    }
  })();
  const submitting = submitAll(plan, url, submissions, { paceMs: scenario.paceMs ?? 0, deadlineMs: 600_000 });
  submitting.catch(() => undefined); // awaited below; not an unhandled rejection while the kills go on
  const [minGap, maxGap] = scenario.killGapMs ?? [800, 2500];
  for (let k = 0; k < (scenario.kills ?? 0); k++) {
    await pause(minGap + Math.random() * (maxGap - minGap));
    while (!service.running) await pause(50);
    await service.kill();
    kills++;
  }
  try {
    await submitting;
    while (!service.running) await pause(50);
    await waitAllTerminal(url, plan.length, scenario.settleMs ?? 180_000);
    await waitSlotsAtRest(url, (fastRepairSettings.slotRecountSettleMs ?? 0) + 15_000);
  } finally {
    stopping = true;
    await keeper;
  }
  await service.stop();
  const persisted = await readPersisted(scenario.dataDir, workloadCatalog);
  let faults: FaultStats | undefined;
  try {
    faults = JSON.parse(readFileSync(join(scenario.dataDir, 'fault-stats.json'), 'utf8')) as FaultStats;
  } catch {
    faults = undefined;
  }
  const { figures, problems, byKey } = checkRun(scenario.name, plan, submissions, persisted, {
    kills,
    crashes: faults?.crashes ?? 0,
    restarts: service.starts - 1,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    ...(faults ? { faults } : {}),
  });
  return { figures, problems, states: finalStates(byKey), plan };
}

/** The final states the plan leads to when nothing gets in the way (key → `STATE@attempt`). */
export function expectedStates(plan: readonly PlannedJob[]): Record<string, string> {
  return Object.fromEntries(
    [...plan]
      .sort((a, b) => a.key.localeCompare(b.key))
      .map((p) => [p.key, `${p.expected.state}@${p.expected.attempt}`]),
  );
}
