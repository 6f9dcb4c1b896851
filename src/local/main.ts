import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { catalogData as defaultCatalogData } from '../../config/offpeak.config.js';
import { intIn } from '../cli/arg-parsers.js';
import type { CatalogData } from '../core/catalog.js';
import type { Job } from '../core/job.js';
import { isTerminal } from '../core/job-state.js';
import { consoleLog, type LogLevel } from './console-log.js';
import { type FaultConfig, parseFaultSpec } from './faults.js';
import { type LocalService, startLocalService } from './service.js';

/** A second Ctrl-C sooner than this after the first is the same keypress relayed by npm or tsx. */
const REPEAT_SIGNAL_GRACE_MS = 1500;

/** The port `npm start` listens on unless told otherwise. */
export const DEFAULT_PORT = 8787;

export interface MainOptions {
  readonly port: number;
  readonly dataDir: string;
  readonly slots: number;
  readonly dispatchInterval: number;
  readonly reconcileInterval: number;
  readonly logLevel: LogLevel;
  readonly jsonLogs: boolean;
  readonly hello: boolean;
  /** The folder that acts as S3 uploads (default `<data dir>/drop`). */
  readonly dropDir?: string;
  /** Fault injection for reliability testing (see src/local/faults.ts). */
  readonly faults?: FaultConfig;
  /** Build and serve the web dashboard at `/` (`--no-dashboard` turns it off). */
  readonly dashboard: boolean;
}

/** `npm start [-- options]`: the command line, parsed. */
export function parseArgs(argv: readonly string[]): MainOptions {
  const program = new Command('npm start --')
    .description('Runs Offpeak on this machine: API, dispatcher, tracker, reconciler and a local executor.')
    .addOption(
      new Option('-p, --port <port>', 'HTTP port on 127.0.0.1 (0 = any free port)')
        .default(DEFAULT_PORT)
        .argParser(intIn(0, 65535)),
    )
    .addOption(
      new Option('-d, --data-dir <dir>', 'jobs, logs and events live here across restarts').default(
        '.offpeak',
      ),
    )
    .addOption(
      new Option('-s, --slots <n>', 'job processes at once (the local compute capacity)')
        .default(availableParallelism())
        .argParser(intIn(1, 1024)),
    )
    .addOption(
      new Option('--dispatch-interval <seconds>', 'dispatcher schedule (one minute on AWS)')
        .default(5)
        .argParser(intIn(1, 3600)),
    )
    .addOption(
      new Option('--reconcile-interval <seconds>', 'reconciler schedule (one minute on AWS)')
        .default(30)
        .argParser(intIn(1, 3600)),
    )
    .addOption(
      new Option('--log-level <level>', 'service log level')
        .choices(['debug', 'info', 'warn', 'error'])
        .default('info'),
    )
    .addOption(new Option('--json-logs', 'log JSON lines instead of text').default(false))
    .addOption(new Option('--no-hello', 'do not submit the welcome hello job at start'))
    .addOption(
      new Option(
        '--drop-dir <dir>',
        'folder whose files act as S3 uploads to inputs/ (default <data-dir>/drop)',
      ),
    )
    .addOption(
      new Option(
        '--faults <spec>',
        'fault injection for testing, comma-separated: duplicate, shuffle, drop-events=<fraction>, ' +
          'dynamo-throttle=<fraction>, sqs-throttle=<fraction>, batch-throttle=<fraction>, ' +
          'crash=<point>[|<point>…]@<probability> (or crash=any@<p>), seed=<int>; see docs/reliability.md',
      ).argParser((value) => {
        try {
          return parseFaultSpec(value);
        } catch (error) {
          throw new InvalidArgumentError((error as Error).message.replace(/^Invalid --faults: /, ''));
        }
      }),
    )
    .addOption(new Option('--no-dashboard', 'do not build and serve the web dashboard at /'))
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  program.parse([...argv], { from: 'user' });
  return program.opts<MainOptions>();
}

/**
 * `npm start`: starts the local service with the catalog of config/offpeak.config.ts, prints where everything is,
 * submits one `hello` job (unless `--no-hello`) so the first run shows the whole path working, and runs until
 * Ctrl-C or SIGTERM, then stops cleanly.
 *
 * @returns the running service and a promise that settles when it has stopped after a signal.
 */
export async function main(
  argv: readonly string[] = process.argv.slice(2),
  catalogData: CatalogData = defaultCatalogData,
): Promise<{ readonly service: LocalService; readonly stopped: Promise<void> }> {
  const options = parseArgs(argv);
  const log = consoleLog({ level: options.logLevel, json: options.jsonLogs });
  let service: LocalService;
  const staticDir = options.dashboard ? await buildDashboardOrWarn(log) : undefined;
  try {
    service = await startLocalService({
      catalogData,
      dataDir: options.dataDir,
      port: options.port,
      slots: options.slots,
      dispatchIntervalMs: options.dispatchInterval * 1000,
      reconcileIntervalMs: options.reconcileInterval * 1000,
      ...(options.dropDir !== undefined ? { dropDir: options.dropDir } : {}),
      ...(staticDir ? { staticDir } : {}),
      log,
      ...(options.faults
        ? { faults: options.faults, faultStatsFile: join(options.dataDir, 'fault-stats.json') }
        : {}),
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(
        `Port ${options.port} is in use: pass --port <another> (or --port 0 for any free port).`,
        {
          cause: error,
        },
      );
    }
    throw error;
  }

  printBanner(service, options.slots, staticDir !== undefined);
  const stopped = new Promise<void>((resolveStopped) => {
    let firstSignalAt: number | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      // Ctrl-C reaches every process of the terminal's group, and npm and tsx also relay it: the same keypress
      // can arrive twice within milliseconds. Only a signal well after the first one means "stop waiting".
      if (firstSignalAt !== undefined) {
        if (Date.now() - firstSignalAt < REPEAT_SIGNAL_GRACE_MS) return;
        process.stderr.write(`\n${signal} again: exiting without a clean stop.\n`);
        process.exit(1);
      }
      firstSignalAt = Date.now();
      process.stderr.write(
        `\n${signal}: stopping (jobs still running will be repaired at the next start)…\n`,
      );
      void service.stop().then(() => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        resolveStopped();
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  if (options.hello) void submitWelcomeJob(service);
  return { service, stopped };
}

/** Builds the dashboard (esbuild, offline, well under a second); without esbuild the API still runs. */
async function buildDashboardOrWarn(log: ReturnType<typeof consoleLog>): Promise<string | undefined> {
  try {
    const { buildDashboard } = await import('../../web/build.js');
    return await buildDashboard();
  } catch (error) {
    log.warn('The web dashboard could not be built; the API runs without it', { error: String(error) });
    return undefined;
  }
}

function printBanner(service: LocalService, slots: number, dashboard: boolean): void {
  const url = service.url;
  const dataDir = relative(process.cwd(), service.dataDir) || '.';
  const lines = [
    '',
    `Offpeak local service is running at ${url}${dashboard ? `  (dashboard: ${url}/)` : ''}`,
    `  data      ${dataDir}/ (jobs survive restarts; delete it to start afresh)`,
    `  job logs  ${dataDir}/logs/<jobId>/    events  ${dataDir}/events.jsonl    slots  ${slots}`,
    '',
    'Try:',
    `  curl -s ${url}/job-types`,
    `  curl -s -X POST ${url}/jobs -H 'content-type: application/json' -d '{"type":"hello","params":{"name":"you"}}'`,
    `  curl -s ${url}/jobs/<id>`,
    `  curl -s '${url}/jobs?state=SUCCEEDED&limit=10'`,
    `  curl -s -X POST ${url}/jobs/<id>/cancel`,
    '',
    ...triggerLines(service),
    `The CLI:  npx offpeak submit hello -p name=you --wait   npx offpeak watch   npx offpeak logs <id> --follow`,
    'A guided tour (own service, temporary data) in another terminal:  npm run demo',
    'Ctrl-C stops.',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/**
 * Submits one `hello` job through the HTTP API, as a user would, and says how it ended. The idempotency key holds
 * for a day, so restarting on the same data directory does not pile up welcome jobs.
 */
async function submitWelcomeJob(service: LocalService): Promise<void> {
  if (!service.deps.catalog.jobTypes().some((t) => t.name === 'hello')) return;
  try {
    const day = new Date().toISOString().slice(0, 10);
    const response = await fetch(`${service.url}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        type: 'hello',
        params: { name: 'Offpeak' },
        idempotencyKey: `npm-start-welcome-${day}`,
      }),
    });
    const job = (await response.json()) as Job;
    if (response.status !== 201) return; // already said hello today
    const deadline = Date.now() + 60_000;
    let current = job;
    while (!isTerminal(current.state) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      const polled = await fetch(`${service.url}/jobs/${job.id}`);
      if (!polled.ok) return;
      current = (await polled.json()) as Job;
    }
    const took = current.finishedAt
      ? ` in ${(Date.parse(current.finishedAt) - Date.parse(current.createdAt)) / 1000} s`
      : '';
    process.stdout.write(
      `Welcome job ${current.id} (hello) ${current.state}${took}: curl -s ${service.url}/jobs/${current.id}\n`,
    );
  } catch {
    // The service is stopping, or the user's catalog changed hello: the welcome is only a courtesy.
  }
}

/** What the banner says about triggers: schedules, the drop folder, webhooks, queues (docs/triggers.md). */
function triggerLines(service: LocalService): string[] {
  const triggers = service.deps.catalog.triggers();
  const url = service.url;
  const lines: string[] = [];
  const next = service.triggers.scheduler.nextDue();
  if (triggers.schedules.length > 0) {
    lines.push(
      `  schedules ${triggers.schedules.map((s) => s.id).join(', ')}${next ? ` (next run ${next.toISOString()})` : ''}: curl -s ${url}/schedules`,
    );
  }
  for (const upload of triggers.uploads) {
    const dir = relative(process.cwd(), join(service.triggers.dropDir, upload.prefix)) || '.';
    lines.push(`  uploads   drop files in ${dir}/ → ${upload.jobType} jobs`);
  }
  for (const hook of triggers.hooks) {
    lines.push(
      `  webhook   POST ${url}/hooks/${hook.id} (${hook.provider}; secret in ${relative(process.cwd(), service.dataDir) || '.'}/secrets.json)`,
    );
  }
  for (const queue of triggers.queues) {
    lines.push(
      `  queue     ${queue.id}: messages to ${service.triggers.queueUrls[queue.id]} → ${queue.jobType} jobs`,
    );
  }
  return lines.length > 0 ? ['Triggers (docs/triggers.md):', ...lines, ''] : [];
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  main()
    .then(({ stopped }) => stopped)
    .then(() => process.exit(0))
    .catch((error: unknown) => {
      const code = (error as { code?: string }).code;
      // commander has printed help or the error already.
      if (code === 'commander.helpDisplayed' || code === 'commander.version') process.exit(0);
      if (typeof code === 'string' && code.startsWith('commander.')) process.exit(2);
      process.stderr.write(`offpeak: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    });
}
