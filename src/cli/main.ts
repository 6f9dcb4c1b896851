import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { DeadLetter, DeadLetterSummary } from '../core/dead-letter.js';
import type { Job } from '../core/job.js';
import { isTerminal, jobStates } from '../core/job-state.js';
import type { JobView } from '../core/observability/job-view.js';
import type { RedriveResult } from '../core/services/dead-letters.js';
import type { Stats } from '../core/services/stats.js';
import type { LogLine } from '../ports/log-reader.js';
import { intIn, isoTime, oneOf } from './arg-parsers.js';
import { ApiClient } from './client.js';
import { resolveConfig } from './config.js';
import { CliError, ExitCode } from './exit-codes.js';
import { duration, type Paint, paint, progressLine, stateText, table, timestamp } from './format.js';
import { watchJobs, watchSummary } from './watch.js';

/** Where the CLI writes; tests capture it. */
export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly stdin: () => Promise<string>;
  readonly isTTY: boolean;
  readonly env: NodeJS.ProcessEnv;
}

interface GlobalOptions {
  readonly api?: string;
  readonly region?: string;
  readonly profile?: string;
  readonly json?: boolean;
  readonly color: boolean;
  readonly sigv4?: boolean;
}

interface Page<T> {
  readonly items: T[];
  readonly cursor?: string;
}

const FINAL_FAILURES = new Set(['FAILED', 'CANCELLED', 'SKIPPED']);

/**
 * `offpeak`: the command line for Offpeak. Talks to the local service (http://127.0.0.1:8787) unless `--api`,
 * `OFFPEAK_API_URL` or the config file name a deployed API, which it signs with SigV4.
 *
 * @returns the exit code (see {@link ExitCode}).
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let exitCode: number = ExitCode.Ok;
  const program = buildProgram(io, (code) => {
    exitCode = Math.max(exitCode, code);
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
      )
        return ExitCode.Ok;
      return ExitCode.Usage;
    }
    if (error instanceof CliError) {
      const json = program.opts<GlobalOptions>().json;
      if (json)
        io.out(
          `${JSON.stringify({ error: error.message, exitCode: error.exitCode, ...(error.body ? { response: error.body } : {}) })}\n`,
        );
      io.err(`offpeak: ${error.message}\n`);
      return error.exitCode;
    }
    io.err(`offpeak: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return ExitCode.ServerError;
  }
}

function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const program = new Command('offpeak')
    .description(
      'Submit, watch and manage Offpeak batch jobs (the local service by default, or a deployed API).',
    )
    .version('0.1.0')
    .addOption(
      new Option(
        '--api <url>',
        'Offpeak API base URL (default: OFFPEAK_API_URL, the config file, or http://127.0.0.1:8787)',
      ),
    )
    .addOption(
      new Option('--region <region>', 'AWS region for SigV4 (default: from the execute-api URL, AWS_REGION)'),
    )
    .addOption(
      new Option(
        '--profile <name>',
        'AWS profile for credentials (default: AWS_PROFILE, the credential chain)',
      ),
    )
    .addOption(new Option('--sigv4', 'sign requests even to a localhost URL (a tunnel to a deployed API)'))
    .addOption(new Option('--json', 'print JSON for machines'))
    .addOption(new Option('--no-color', 'no ANSI colours'))
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });

  const ctx = () => {
    const g = program.opts<GlobalOptions>();
    const colors = g.color && io.isTTY && !io.env.NO_COLOR;
    return { g, p: paint(Boolean(colors)), client: clientFor(g, io) };
  };
  const print = (g: GlobalOptions, data: unknown, human: () => string) => {
    io.out(g.json ? `${JSON.stringify(data, null, 2)}\n` : `${human()}\n`);
  };

  program
    .command('submit')
    .description('Submit a job')
    .argument('<type>', 'job type')
    .option(
      '-p, --param <key=value>',
      'a parameter (repeatable; values are JSON when they parse, else strings)',
      collectParam,
      {},
    )
    .option('-f, --params-file <file>', 'parameters from a JSON file ("-" reads stdin)')
    .option('-k, --idempotency-key <key>', 'the same key again returns the same job')
    .option('--priority <n>', 'priority 0..1000 inside the queue', intIn(0, 1000))
    .option('--depends-on <id...>', 'run after these jobs succeed')
    .option('-w, --wait', 'wait until the job finishes; exit 1 unless it SUCCEEDED')
    .option('--timeout <seconds>', 'with --wait: give up after this long (exit 9)', intIn(1, 7 * 86_400))
    .action(async (type: string, opts: SubmitOptions) => {
      const { g, p, client } = await resolved(ctx);
      const fileParams = opts.paramsFile ? await readJsonObject(opts.paramsFile, io) : {};
      const body = {
        type,
        params: { ...fileParams, ...opts.param },
        ...(opts.idempotencyKey ? { idempotencyKey: opts.idempotencyKey } : {}),
        ...(opts.priority !== undefined ? { priority: opts.priority } : {}),
        ...(opts.dependsOn ? { dependsOn: opts.dependsOn } : {}),
      };
      const job = await client.post<Job>('/jobs', body);
      if (!opts.wait) {
        print(g, job, () => `${job.id}  ${job.type}  ${stateText(job.state, p)}`);
        return;
      }
      if (!g.json) io.err(`Submitted ${job.id} (${job.type}); waiting for it to finish…\n`);
      const result = await watchJobs(client, [job.id], watchOptions(io, p, 1, opts.timeout, Boolean(g.json)));
      finishWatch(g, p, io, result, setExit);
    });

  program
    .command('status')
    .description("Show a job: state, progress, attempts with resource usage, and its log's last lines")
    .argument('<id>', 'job id')
    .action(async (id: string) => {
      const { g, p, client } = await resolved(ctx);
      const job = await client.get<JobView>(`/jobs/${encodeURIComponent(id)}`);
      print(g, job, () => describeJob(job, p));
    });

  program
    .command('list')
    .description('List jobs, newest first')
    .addOption(new Option('-s, --state <state>', 'only jobs in this state').choices([...jobStates]))
    .option('-t, --type <type>', 'only jobs of this type')
    .option('-n, --limit <n>', 'jobs per page (1..100)', intIn(1, 100), 25)
    .option('--cursor <cursor>', 'continue a previous listing')
    .option('--all', 'every page (up to 10,000 jobs)')
    .action(
      async (opts: { state?: string; type?: string; limit: number; cursor?: string; all?: boolean }) => {
        const { g, p, client } = await resolved(ctx);
        const items: Job[] = [];
        let cursor = opts.cursor;
        do {
          const page = await client.get<Page<Job>>('/jobs', {
            query: { state: opts.state, type: opts.type, limit: opts.limit, cursor },
          });
          items.push(...page.items);
          cursor = page.cursor;
        } while (opts.all && cursor && items.length < 10_000);
        print(g, { items, ...(cursor ? { cursor } : {}) }, () => {
          if (items.length === 0) return 'No jobs.';
          const rows = items.map((j) => [
            j.id,
            j.type,
            stateText(j.state, p),
            timestamp(j.createdAt),
            duration(j.finishedAt ? (Date.parse(j.finishedAt) - Date.parse(j.createdAt)) / 1000 : undefined),
            `${j.attempt}/${j.maxAttempts}`,
            j.exitCode !== undefined ? String(j.exitCode) : '',
          ]);
          const more = cursor ? `\n${p.dim(`More: offpeak list --cursor ${cursor}`)}` : '';
          return `${table(['JOB', 'TYPE', 'STATE', 'CREATED', 'TOOK', 'ATTEMPT', 'EXIT'], rows)}${more}`;
        });
      },
    );

  program
    .command('watch')
    .description('Live progress of jobs until they finish, then a summary (exit 1 if any did not succeed)')
    .argument('[ids...]', 'job ids (default: every unfinished job)')
    .option('-t, --type <type>', 'without ids: only unfinished jobs of this type')
    .option('-i, --interval <seconds>', 'seconds between updates', intIn(1, 60), 1)
    .option('--timeout <seconds>', 'give up after this long (exit 9)', intIn(1, 7 * 86_400))
    .action(async (ids: string[], opts: { type?: string; interval: number; timeout?: number }) => {
      const { g, p, client } = await resolved(ctx);
      const targets = ids.length > 0 ? ids : await unfinishedJobs(client, opts.type);
      if (targets.length === 0) {
        print(g, { jobs: [] }, () => 'No unfinished jobs to watch.');
        return;
      }
      const result = await watchJobs(
        client,
        targets,
        watchOptions(io, p, opts.interval, opts.timeout, Boolean(g.json)),
      );
      finishWatch(g, p, io, result, setExit);
    });

  program
    .command('logs')
    .description("Print a job's log (the current attempt unless --attempt)")
    .argument('<id>', 'job id')
    .option('-a, --attempt <n>', 'attempt number', intIn(1, 1000))
    .option('-c, --chunk <n>', 'chunk (array index) of a chunked job', intIn(0, 99_999))
    .option('--tail <n>', 'only the last n lines', intIn(1, 1000))
    .option('-f, --follow', 'keep printing new lines until the attempt ends')
    .option('--timestamps', 'prefix lines with their timestamps where known')
    .action(
      async (
        id: string,
        opts: { attempt?: number; chunk?: number; tail?: number; follow?: boolean; timestamps?: boolean },
      ) => {
        const { g, client } = await resolved(ctx);
        let cursor: string | undefined;
        let first = true;
        const all: LogLine[] = [];
        for (;;) {
          const page = await client.get<LogsPage>(`/jobs/${encodeURIComponent(id)}/logs`, {
            query: {
              attempt: opts.attempt,
              chunk: opts.chunk,
              cursor,
              limit: first && opts.tail ? opts.tail : 1000,
              tail: first && opts.tail !== undefined && cursor === undefined ? true : undefined,
              follow: opts.follow ? true : undefined,
              wait: opts.follow ? 10 : undefined,
            },
            timeoutMs: 40_000,
          });
          first = false;
          if (g.json) all.push(...page.lines);
          else
            for (const line of page.lines)
              io.out(`${opts.timestamps && line.timestamp ? `${line.timestamp} ` : ''}${line.message}\n`);
          cursor = page.cursor ?? cursor;
          if (!page.found && !opts.follow && !g.json)
            io.err(`(no log yet for attempt ${page.attempt}: the job is ${page.state})\n`);
          const more = page.lines.length > 0 && !page.complete;
          if (
            opts.follow
              ? page.complete || (isTerminal(page.state) && page.lines.length === 0)
              : !more || opts.tail
          ) {
            if (g.json) io.out(`${JSON.stringify({ ...page, lines: all }, null, 2)}\n`);
            return;
          }
        }
      },
    );

  program
    .command('cancel')
    .description('Cancel an unfinished job (a running one is stopped)')
    .argument('<id>', 'job id')
    .action(async (id: string) => {
      const { g, p, client } = await resolved(ctx);
      const job = await client.post<Job>(`/jobs/${encodeURIComponent(id)}/cancel`);
      print(g, job, () => `${job.id}  ${stateText(job.state, p)}`);
    });

  program
    .command('retry')
    .description(
      'Retry a FAILED or CANCELLED job as a new attempt series (chunked jobs re-run only failed chunks)',
    )
    .argument('<id>', 'job id')
    .option('-r, --reason <text>', 'why, kept on the job with the retry')
    .option('-w, --wait', 'wait until the retry finishes; exit 1 unless it SUCCEEDED')
    .action(async (id: string, opts: { reason?: string; wait?: boolean }) => {
      const { g, p, client } = await resolved(ctx);
      const job = await client.post<Job>(
        `/jobs/${encodeURIComponent(id)}/retry`,
        opts.reason ? { reason: opts.reason } : {},
        { feature: 'retry' },
      );
      if (!opts.wait) {
        print(g, job, () => `${job.id}  ${stateText(job.state, p)}  attempts from ${job.attempt + 1}`);
        return;
      }
      finishWatch(
        g,
        p,
        io,
        await watchJobs(client, [job.id], watchOptions(io, p, 1, undefined, Boolean(g.json))),
        setExit,
      );
    });

  const dlq = program
    .command('dlq')
    .description('Dead letters: jobs that failed their last attempt, and messages no consumer could handle');
  dlq
    .command('list')
    .description('List dead letters, newest first')
    .option('-k, --kind <kind>', 'job or message', oneOf(['job', 'message']))
    .option('-t, --type <type>', 'only this job type')
    .option('--redriven', 'those already sent back (kept for a while as a trace) instead of the open ones')
    .option('--since <time>', 'dead at or after (ISO time)', isoTime)
    .option('--until <time>', 'dead before (ISO time)', isoTime)
    .option('-n, --limit <n>', 'per page (1..100)', intIn(1, 100), 25)
    .option('--cursor <cursor>', 'continue a previous listing')
    .action(
      async (opts: {
        kind?: string;
        type?: string;
        redriven?: boolean;
        since?: string;
        until?: string;
        limit: number;
        cursor?: string;
      }) => {
        const { g, client } = await resolved(ctx);
        const page = await client.get<Page<DeadLetterSummary>>('/dead-letters', {
          query: {
            status: opts.redriven ? 'redriven' : undefined,
            kind: opts.kind,
            type: opts.type,
            from: opts.since,
            to: opts.until,
            limit: opts.limit,
            cursor: opts.cursor,
          },
          feature: 'dead-letters',
        });
        print(g, page, () =>
          page.items.length === 0
            ? 'No dead letters.'
            : table(
                ['ID', 'KIND', 'TYPE', 'JOB / MESSAGE', 'DEAD AT', 'REASON'],
                page.items.map((d) => [
                  d.id,
                  d.kind,
                  d.type ?? '',
                  d.jobId ?? `${d.source ?? ''} ${d.messageId ?? ''}`.trim(),
                  timestamp(d.createdAt),
                  d.reason.slice(0, 60),
                ]),
              ) + (page.cursor ? `\nMore: offpeak dlq list --cursor ${page.cursor}` : ''),
        );
      },
    );
  dlq
    .command('show')
    .description('One dead letter: why, the job or message as it died, the last log lines')
    .argument('<id>', 'dead-letter id')
    .action(async (id: string) => {
      const { g, client } = await resolved(ctx);
      const record = await client.get<DeadLetter>(`/dead-letters/${encodeURIComponent(id)}`, {
        feature: 'dead-letters',
      });
      print(g, record, () =>
        [
          `${record.id}  ${record.kind}  ${record.status}  ${timestamp(record.createdAt)}`,
          `  reason ${record.reason}`,
          ...(record.jobId ? [`  job    ${record.jobId} (${record.type ?? ''})`] : []),
          ...(record.message
            ? [
                `  message ${record.message.messageId} from ${record.message.source}`,
                `  body   ${record.message.body}`,
              ]
            : []),
          ...(record.logLines?.length ? ['', ...record.logLines.map((line) => `  │ ${line}`)] : []),
          ...(record.logError ? [`  (no log lines: ${record.logError})`] : []),
        ].join('\n'),
      );
    });
  dlq
    .command('redrive')
    .description(
      'Send dead letters back (jobs retry as a new attempt series; messages go back to their queue)',
    )
    .argument('[ids...]', 'dead-letter ids')
    .option('-k, --kind <kind>', 'only jobs or only messages', oneOf(['job', 'message']))
    .option('-t, --type <type>', 'every open dead letter of this job type')
    .option('--since <time>', 'dead at or after (ISO time)', isoTime)
    .option('--until <time>', 'dead before (ISO time)', isoTime)
    .option('--all', 'every open dead letter')
    .action(
      async (
        ids: string[],
        opts: { kind?: string; type?: string; since?: string; until?: string; all?: boolean },
      ) => {
        const { g, client } = await resolved(ctx);
        const filtered = Boolean(opts.kind || opts.type || opts.since || opts.until || opts.all);
        if (ids.length === 0 && !filtered) {
          throw new CliError(
            ExitCode.Usage,
            'Say what to redrive: ids, --kind, --type, --since/--until, or --all',
          );
        }
        if (ids.length > 0 && filtered) {
          throw new CliError(
            ExitCode.Usage,
            'Give either ids or a filter (--kind, --type, --since/--until, --all)',
          );
        }
        const body = {
          ...(ids.length > 0 ? { ids } : {}),
          ...(opts.kind ? { kind: opts.kind } : {}),
          ...(opts.type ? { type: opts.type } : {}),
          ...(opts.since ? { from: opts.since } : {}),
          ...(opts.until ? { to: opts.until } : {}),
          ...(opts.all && !opts.kind && !opts.type && !opts.since && !opts.until ? { all: true } : {}),
        };
        // A filter redrives at most `limit` per call and says whether more match: keep going until none do.
        const total = {
          redriven: [] as RedriveResult['redriven'][number][],
          skipped: [] as RedriveResult['skipped'][number][],
          failed: [] as RedriveResult['failed'][number][],
          more: false,
        };
        for (let call = 0; call < MAX_REDRIVE_CALLS; call++) {
          const result = await client.post<RedriveResult>('/dead-letters/redrive', body, {
            feature: 'dead-letters',
          });
          total.redriven.push(...result.redriven);
          total.skipped.push(...result.skipped);
          total.failed.push(...result.failed);
          total.more = result.more;
          if (!result.more || result.redriven.length === 0) break;
        }
        print(g, total, () =>
          [
            `Redriven: ${total.redriven.length}${total.skipped.length ? `, skipped: ${total.skipped.length}` : ''}${total.failed.length ? `, failed: ${total.failed.length}` : ''}`,
            ...total.redriven.map(
              (r) => `  ${r.id}${r.jobId ? ` → job ${r.jobId}` : ''}${r.queue ? ` → ${r.queue}` : ''}`,
            ),
            ...[...total.skipped, ...total.failed].map((r) => `  ${r.id}: ${r.message}`),
            ...(total.more ? ['More match: run the command again.'] : []),
          ].join('\n'),
        );
        if (total.failed.length > 0) setExit(ExitCode.ServerError);
      },
    );
  dlq
    .command('delete')
    .description('Delete a dead letter (it will not be redriven)')
    .argument('<id>', 'dead-letter id')
    .action(async (id: string) => {
      const { g, client } = await resolved(ctx);
      await client.delete<unknown>(`/dead-letters/${encodeURIComponent(id)}`, { feature: 'dead-letters' });
      print(g, { deleted: id }, () => `Deleted ${id}`);
    });

  const schedules = program.command('schedules').description('Cron, rate and one-time schedules');
  schedules
    .command('list')
    .description('List schedules')
    .action(async () => {
      const { g, client } = await resolved(ctx);
      const page = await client.get<Page<Record<string, unknown>>>('/schedules', { feature: 'schedules' });
      print(g, page, () =>
        page.items.length === 0
          ? 'No schedules.'
          : table(
              ['ID', 'TYPE', 'EXPRESSION', 'TIME ZONE', 'STATE', 'NEXT RUN', 'FROM'],
              page.items.map((s) => [
                str(s.id),
                str(s.jobType),
                str(s.expression),
                str(s.timezone ?? 'UTC'),
                scheduleState(s),
                timestamp(str(s.nextFireAt) || undefined),
                str(s.origin),
              ]),
            ),
      );
    });
  schedules
    .command('create')
    .description(
      'Create a schedule, e.g. offpeak schedules create hello "cron(0 2 * * ? *)" --tz Europe/Paris -p name=night',
    )
    .argument('<type>', 'job type')
    .argument('<expression>', 'cron(...), rate(...) or at(...)')
    .option('--tz, --timezone <zone>', 'IANA time zone', 'UTC')
    .option('-p, --param <key=value>', 'a parameter (repeatable)', collectParam, {})
    .option('-f, --params-file <file>', 'parameters from a JSON file ("-" reads stdin)')
    .option('--id <id>', 'schedule id (default: generated)')
    .option('--paused', 'create it paused')
    .action(
      async (
        type: string,
        expression: string,
        opts: {
          timezone: string;
          param: Record<string, unknown>;
          paramsFile?: string;
          id?: string;
          paused?: boolean;
        },
      ) => {
        const { g, client } = await resolved(ctx);
        const fileParams = opts.paramsFile ? await readJsonObject(opts.paramsFile, io) : {};
        const schedule = await client.post<Record<string, unknown>>(
          '/schedules',
          {
            ...(opts.id ? { id: opts.id } : {}),
            jobType: type,
            expression,
            timezone: opts.timezone,
            params: { ...fileParams, ...opts.param },
            enabled: !opts.paused,
          },
          { feature: 'schedules' },
        );
        print(
          g,
          schedule,
          () =>
            `Created schedule ${str(schedule.id)}${schedule.nextFireAt ? `, next run ${timestamp(str(schedule.nextFireAt))}` : ''}`,
        );
      },
    );
  for (const [name, enabled] of [
    ['pause', false],
    ['resume', true],
  ] as const) {
    schedules
      .command(name)
      .description(`${enabled ? 'Resume' : 'Pause'} a schedule`)
      .argument('<id>', 'schedule id')
      .action(async (id: string) => {
        const { g, client } = await resolved(ctx);
        const schedule = await client.patch<Record<string, unknown>>(
          `/schedules/${encodeURIComponent(id)}`,
          { enabled },
          { feature: 'schedules' },
        );
        print(g, schedule, () => `${enabled ? 'Resumed' : 'Paused'} schedule ${id}`);
      });
  }
  schedules
    .command('delete')
    .description('Delete a schedule')
    .argument('<id>', 'schedule id')
    .action(async (id: string) => {
      const { g, client } = await resolved(ctx);
      const result = await client.delete<unknown>(`/schedules/${encodeURIComponent(id)}`, {
        feature: 'schedules',
      });
      print(g, result ?? { deleted: id }, () => `Deleted schedule ${id}`);
    });

  const pipelines = program.command('pipelines').description('DAG pipelines of jobs');
  pipelines
    .command('submit')
    .description('Submit a pipeline from a JSON file ({ "steps": [...] }; "-" reads stdin)')
    .argument('<file>', 'pipeline definition')
    .option('-w, --wait', 'wait until every step finishes; exit 1 unless all SUCCEEDED')
    .action(async (file: string, opts: { wait?: boolean }) => {
      const { g, p, client } = await resolved(ctx);
      const definition = await readJsonObject(file, io);
      const pipeline = await client.post<PipelineView>('/pipelines', definition, { feature: 'pipelines' });
      if (!opts.wait) {
        print(g, pipeline, () => describePipeline(pipeline, p));
        return;
      }
      const ids = (pipeline.steps ?? [])
        .map((s) => s.jobId ?? s.job?.id)
        .filter((id): id is string => Boolean(id));
      finishWatch(
        g,
        p,
        io,
        await watchJobs(client, ids, watchOptions(io, p, 1, undefined, Boolean(g.json))),
        setExit,
      );
    });
  pipelines
    .command('status')
    .description('Show a pipeline: every step with its state')
    .argument('<id>', 'pipeline id')
    .action(async (id: string) => {
      const { g, p, client } = await resolved(ctx);
      const pipeline = await client.get<PipelineView>(`/pipelines/${encodeURIComponent(id)}`, {
        feature: 'pipelines',
      });
      print(g, pipeline, () => describePipeline(pipeline, p));
    });

  program
    .command('stats')
    .description('Counts by state, queues (depth, oldest waiting, running), throughput, stragglers')
    .action(async () => {
      const { g, client } = await resolved(ctx);
      const stats = await client.get<Stats>('/stats', { feature: 'stats' });
      print(g, stats, () => describeStats(stats));
    });

  program
    .command('dev')
    .description(
      'Run the local service (same as npm start); options after -- go to it, e.g. offpeak dev -- --port 0',
    )
    .allowUnknownOption()
    .allowExcessArguments()
    .helpOption(false)
    .argument('[options...]', 'local service options (see offpeak dev -- --help)')
    .action(async (options: string[]) => {
      const { main } = await import('../local/main.js');
      const { stopped } = await main(options);
      await stopped;
    });

  return program;
}

interface SubmitOptions {
  readonly param: Record<string, unknown>;
  readonly paramsFile?: string;
  readonly idempotencyKey?: string;
  readonly priority?: number;
  readonly dependsOn?: string[];
  readonly wait?: boolean;
  readonly timeout?: number;
}

interface LogsPage {
  readonly attempt: number;
  readonly found: boolean;
  readonly lines: LogLine[];
  readonly cursor?: string;
  readonly state: Job['state'];
  readonly complete: boolean;
}

interface PipelineView {
  readonly id?: string;
  readonly state?: string;
  readonly steps?: {
    name?: string;
    id?: string;
    jobId?: string;
    type?: string;
    state?: string;
    dependsOn?: string[];
    job?: { id?: string; state?: string; type?: string };
  }[];
}

async function resolved<T>(ctx: () => { g: GlobalOptions; p: Paint; client: Promise<ApiClient> } & T) {
  const c = ctx();
  return { ...c, client: await c.client };
}

async function clientFor(g: GlobalOptions, io: CliIo): Promise<ApiClient> {
  const config = await resolveConfig({
    ...(g.api !== undefined ? { api: g.api } : {}),
    ...(g.region !== undefined ? { region: g.region } : {}),
    ...(g.profile !== undefined ? { profile: g.profile } : {}),
    ...(g.sigv4 ? { forceSign: true } : {}),
    env: io.env,
  });
  return new ApiClient(config);
}

function watchOptions(io: CliIo, p: Paint, interval: number, timeout: number | undefined, json: boolean) {
  return {
    intervalSeconds: interval,
    ...(timeout !== undefined ? { timeoutSeconds: timeout } : {}),
    tty: io.isTTY && !json,
    silent: json,
    paint: p,
  };
}

function finishWatch(
  g: GlobalOptions,
  p: Paint,
  io: CliIo,
  result: Awaited<ReturnType<typeof watchJobs>>,
  setExit: (code: number) => void,
): void {
  io.out(
    g.json
      ? `${JSON.stringify({ jobs: result.jobs, timedOut: result.timedOut }, null, 2)}\n`
      : `\n${watchSummary(result.jobs, p)}\n`,
  );
  if (result.timedOut) setExit(ExitCode.Timeout);
  else if (result.jobs.some((j) => FINAL_FAILURES.has(j.state))) setExit(ExitCode.JobFailed);
}

async function unfinishedJobs(client: ApiClient, type: string | undefined): Promise<string[]> {
  const ids: string[] = [];
  for (const state of ['WAITING', 'QUEUED', 'SUBMITTING', 'SUBMITTED', 'RUNNING', 'RETRY_WAIT']) {
    const page = await client.get<Page<Job>>('/jobs', { query: { state, type, limit: 100 } });
    ids.push(...page.items.map((j) => j.id));
  }
  return ids;
}

function describeJob(job: JobView, p: Paint): string {
  const lines = [
    `${p.bold(job.id)}  ${job.type}  ${stateText(job.state, p)}${job.straggler ? p.yellow(`  straggler: running ${duration(job.straggler.runningSeconds)}, expected ≤ ${duration(job.straggler.thresholdSeconds)}`) : ''}`,
    `  queue ${job.queue}, priority ${job.priority}, attempt ${job.attempt}/${job.maxAttempts}, trigger ${job.trigger.kind}${job.trigger.source ? ` ${job.trigger.source}` : ''}`,
    `  created ${timestamp(job.createdAt)}${job.finishedAt ? `, finished ${timestamp(job.finishedAt)}` : ''}`,
    `  progress ${progressLine(job.progress)}`,
  ];
  if (job.pipelineId) lines.push(`  pipeline ${job.pipelineId}${job.stepId ? `, step ${job.stepId}` : ''}`);
  if (job.statusReason) lines.push(`  reason ${job.statusReason}`);
  if (job.error) lines.push(`  error ${job.error.code ?? job.error.name}: ${job.error.message}`);
  if (job.attempts.length > 0) {
    lines.push(
      '',
      table(
        ['ATTEMPT', 'EXECUTOR JOB', 'STARTED', 'RAN', 'EXIT', 'OUTCOME', 'CPU', 'PEAK MEM', 'GPU'],
        job.attempts.map((a) => [
          String(a.attempt),
          a.executorJobId ?? '-',
          timestamp(a.startedAt),
          duration(
            a.startedAt && a.stoppedAt
              ? (Date.parse(a.stoppedAt) - Date.parse(a.startedAt)) / 1000
              : undefined,
          ),
          a.exitCode !== undefined ? String(a.exitCode) : '-',
          a.outcome ?? '-',
          a.usage ? `${a.usage.cpuSeconds}s` : '-',
          a.usage ? `${a.usage.peakMemoryMiB} MiB` : '-',
          a.usage?.gpuUtilisationPercent !== undefined ? `${a.usage.gpuUtilisationPercent}%` : '-',
        ]),
      ).replace(/^/gm, '  '),
    );
  }
  if (job.logs) {
    lines.push('', `  log ${job.logs.location ?? '(not yet written)'}`);
    for (const line of job.logs.lastLines) lines.push(`  │ ${line.message}`);
  }
  return lines.join('\n');
}

function describePipeline(pipeline: PipelineView, p: Paint): string {
  const steps = pipeline.steps ?? [];
  return [
    `${p.bold(pipeline.id ?? '')}  ${pipeline.state ? stateText(pipeline.state, p) : ''}`,
    table(
      ['STEP', 'JOB', 'TYPE', 'STATE', 'AFTER'],
      steps.map((s) => [
        s.name ?? s.id ?? '-',
        s.jobId ?? s.job?.id ?? '-',
        s.type ?? s.job?.type ?? '-',
        stateText(s.state ?? s.job?.state ?? '-', p),
        (s.dependsOn ?? []).join(', '),
      ]),
    ),
  ].join('\n');
}

function describeStats(stats: Stats): string {
  const active = Object.entries(stats.active)
    .map(([s, n]) => `${s} ${n}`)
    .join('  ');
  const finished = Object.entries(stats.finished)
    .map(([s, n]) => `${s} ${n}`)
    .join('  ');
  const lines = [
    `Unfinished: ${active}`,
    `Finished in the last ${duration(stats.finishedWindowSeconds)}: ${finished}`,
    `Throughput (last hour): ${stats.throughput.succeeded} succeeded, ${stats.throughput.failed} failed (${stats.throughput.perMinute}/min)`,
    '',
    table(
      ['QUEUE', 'WAITING', 'OLDEST WAIT', 'RUNNING', 'LIMIT', 'STUCK'],
      stats.queues.map((q) => [
        q.name,
        String(q.depth),
        duration(q.oldestWaitingSeconds),
        String(q.running),
        q.paused ? `${q.concurrency} (paused)` : String(q.concurrency),
        String(q.stuckRunnable),
      ]),
    ),
  ];
  if (stats.stragglers && stats.stragglers.length > 0) {
    lines.push(
      '',
      'Stragglers:',
      table(
        ['JOB', 'TYPE', 'RUNNING', 'LIMIT', 'RULE'],
        stats.stragglers.map((s) => [
          s.jobId,
          s.type,
          duration(s.runningSeconds),
          duration(s.thresholdSeconds),
          s.rule,
        ]),
      ),
    );
  }
  return lines.join('\n');
}

function collectParam(value: string, previous: Record<string, unknown>): Record<string, unknown> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got "${value}"`);
  const key = value.slice(0, eq);
  const raw = value.slice(eq + 1);
  let parsed: unknown = raw;
  try {
    parsed = JSON.parse(raw);
  } catch {
    // not JSON: a string
  }
  return { ...previous, [key]: parsed };
}

/** Calls one `dlq redrive` makes at most (100 dead letters each by default). */
const MAX_REDRIVE_CALLS = 100;

async function readJsonObject(file: string, io: CliIo): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = file === '-' ? await io.stdin() : await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError(ExitCode.Usage, `Cannot read ${file}: ${(error as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new CliError(
      ExitCode.Usage,
      `${file === '-' ? 'stdin' : file} is not JSON: ${(error as Error).message}`,
    );
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new CliError(ExitCode.Usage, `${file === '-' ? 'stdin' : file} must hold a JSON object`);
  }
  return data as Record<string, unknown>;
}

/** A schedule's state as `GET /schedules` reports it (`ENABLED`, `DISABLED`, `COMPLETED`), in the CLI's words. */
function scheduleState(schedule: Record<string, unknown>): string {
  if (schedule.state === 'COMPLETED') return 'completed';
  return schedule.state === 'DISABLED' || schedule.enabled === false ? 'paused' : 'enabled';
}

function str(value: unknown): string {
  return value === undefined || value === null ? '' : String(value);
}

/** The real process's streams and environment. */
export function processIo(): CliIo {
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    stdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    isTTY: Boolean(process.stdout.isTTY),
    env: process.env,
  };
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  runCli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`offpeak: ${String(error)}\n`);
      process.exitCode = ExitCode.ServerError;
    },
  );
}
