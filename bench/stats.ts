import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../src/aws/clients.js';
import { DynamoJobStore } from '../src/aws/dynamo-job-store.js';
import { DynamoSchedulingStore } from '../src/aws/dynamo-scheduling-store.js';
import { DynamoStatsSource } from '../src/aws/dynamo-stats-source.js';
import { toJobItem } from '../src/aws/job-item.js';
import { buildCatalogData, Catalog } from '../src/core/catalog.js';
import { systemClock } from '../src/core/clock.js';
import { newJobId } from '../src/core/ids.js';
import type { Job } from '../src/core/job.js';
import type { JobState } from '../src/core/job-state.js';
import { defineJobType } from '../src/core/job-type.js';
import { collectStats } from '../src/core/services/stats.js';
import { ensureTable } from '../src/local/resources.js';
import { type Emulators, startDynalite, writeItems } from './dynalite.js';
import type { Benchmark } from './run.js';

/**
 * What one `GET /stats` costs (docs/monitoring.md, "What GET /stats costs"), on dynalite: DynamoDB read capacity
 * (ReturnConsumedCapacity, summed by SDK middleware over every call of one `collectStats`) and time, for a backlog of
 * 1,000 waiting jobs (the baseline), 10,000 (`OFFPEAK_BENCH_JOBS`), and 10,000 plus a history five times that size
 * finished last month. The claims checked: the cost follows the work in flight (10× the backlog costs about 10×,
 * not more), and never the history (the old jobs change nothing).
 */
export const statsBenchmark: Benchmark = {
  name: 'stats',
  description: 'GET /stats: read capacity and time per call vs the backlog, and vs the history',
  async run(log) {
    const large = Number(process.env.OFFPEAK_BENCH_JOBS ?? 10_000);
    const small = Math.max(1, Math.round(large / 10));
    const emulators = await startDynalite();
    try {
      const scenarios = [
        { title: `${small} waiting, ${small / 2} finished today`, waiting: small, history: 0 },
        { title: `${large} waiting, ${large / 2} finished today`, waiting: large, history: 0 },
        { title: `the same + ${large * 5} finished last month`, waiting: large, history: large * 5 },
      ];
      log(pad(['backlog', 'RCU/call', 'ms/call', 'RCU vs first', 'ms vs first']));
      let base: { rcu: number; ms: number } | undefined;
      const results: { rcu: number; ms: number }[] = [];
      for (const scenario of scenarios) {
        const result = await measure(emulators, scenario.waiting, scenario.history);
        base ??= result;
        results.push(result);
        log(
          pad([
            scenario.title,
            result.rcu.toFixed(0),
            result.ms.toFixed(0),
            `${(result.rcu / base.rcu).toFixed(2)}x`,
            `${(result.ms / base.ms).toFixed(2)}x`,
          ]),
        );
      }
      const [first, tenfold, withHistory] = results;
      if (!first || !tenfold || !withHistory) return false;
      const backlogRatio = tenfold.rcu / first.rcu;
      const historyRatio = withHistory.rcu / tenfold.rcu;
      log();
      log(`10x the backlog: ${backlogRatio.toFixed(2)}x the read capacity (bound: at most 12x)`);
      log(
        `5x the backlog as old history: ${historyRatio.toFixed(2)}x the read capacity (bound: at most 1.1x)`,
      );
      return backlogRatio <= 12 && historyRatio <= 1.1;
    } finally {
      await emulators.stop();
    }
  },
};

const catalog = new Catalog(
  buildCatalogData({
    jobTypes: [defineJobType({ name: 'report', image: 'busybox', command: ['true'], queue: 'normal' })],
  }),
);

async function measure(
  emulators: Emulators,
  waiting: number,
  history: number,
): Promise<{ rcu: number; ms: number }> {
  const client = new DynamoDBClient({
    endpoint: emulators.endpoints.dynamodb,
    region: emulators.region,
    credentials: emulators.credentials,
  });
  const tableName = `stats-${waiting}-${history}-${Date.now()}`;
  await ensureTable(client, tableName);
  const db = createDocumentClient(client);
  const now = Date.now();
  await seed(db, tableName, waiting, 'QUEUED', () => new Date(now - 60_000));
  await seed(db, tableName, waiting / 2, 'SUCCEEDED', (i) => new Date(now - 60_000 - i * 1_000));
  await seed(db, tableName, history, 'SUCCEEDED', (i) => new Date(now - 30 * 86_400_000 - i * 1_000));

  let rcu = 0;
  client.middlewareStack.add(
    (next) => async (args) => {
      (args.input as { ReturnConsumedCapacity?: string }).ReturnConsumedCapacity = 'TOTAL';
      const result = await next(args);
      const consumed = (result.output as { ConsumedCapacity?: unknown }).ConsumedCapacity;
      for (const c of Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) {
        rcu += (c as { CapacityUnits?: number }).CapacityUnits ?? 0;
      }
      return result;
    },
    { step: 'initialize', name: 'countConsumedCapacity' },
  );
  const deps = {
    store: new DynamoJobStore({ client: db, tableName, queueOrder: () => 'fifo' as const }),
    scheduling: new DynamoSchedulingStore({ client: db, tableName }),
    catalog,
    clock: systemClock,
  };
  const source = new DynamoStatsSource({ client: db, tableName });
  await collectStats(deps, source); // warm-up
  const calls = 3;
  rcu = 0;
  const started = performance.now();
  for (let i = 0; i < calls; i++) await collectStats(deps, source);
  const ms = (performance.now() - started) / calls;
  client.destroy();
  return { rcu: rcu / calls, ms };
}

async function seed(
  db: DynamoDBDocumentClient,
  tableName: string,
  count: number,
  state: JobState,
  at: (i: number) => Date,
): Promise<void> {
  const items = Array.from({ length: count }, (_, i) => {
    const when = at(i);
    const iso = when.toISOString();
    const job: Job = {
      id: newJobId(when),
      type: 'report',
      queue: 'normal',
      priority: 500,
      params: { report: `daily-${i}`, region: 'eu-west-1' },
      trigger: { kind: 'api' },
      dependsOn: [],
      state,
      attempt: state === 'QUEUED' ? 0 : 1,
      maxAttempts: 3,
      attempts:
        state === 'QUEUED'
          ? []
          : [{ attempt: 1, executorJobId: `exec-${i}`, startedAt: iso, stoppedAt: iso, exitCode: 0 }],
      history: [{ state, at: iso }],
      holdsSlot: false,
      createdAt: iso,
      updatedAt: iso,
      stateChangedAt: iso,
      ...(state === 'QUEUED' ? {} : { finishedAt: iso }),
      version: 0,
    };
    return toJobItem(job, 'fifo');
  });
  await writeItems(db, tableName, items);
}

function pad(cells: readonly string[]): string {
  return cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(i === 0 ? 44 : 14))).join('');
}
