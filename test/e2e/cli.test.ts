import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { exampleJobTypes } from '../../config/job-types.js';
import { buildCatalogData } from '../../src/core/catalog.js';
import type { Job } from '../../src/core/job.js';
import { defineJobType } from '../../src/core/job-type.js';
import type { JobView } from '../../src/core/observability/job-view.js';
import { type LocalService, startLocalService } from '../../src/local/service.js';
import { runOffpeak } from './support/cli.js';

const catalogData = buildCatalogData({
  jobTypes: [
    ...exampleJobTypes,
    defineJobType({
      name: 'ticker',
      image: 'busybox',
      command: ['sh', '-c', 'for i in 1 2 3 4 5; do echo "tick $i"; sleep 0.4; done'],
      params: z.object({}).strict(),
      retry: { attempts: 1 },
    }),
  ],
});

let dataDir: string;
let service: LocalService;
let api: string[];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'offpeak-cli-'));
  service = await startLocalService({
    catalogData,
    dataDir,
    port: 0,
    slots: 4,
    dispatchIntervalMs: 500,
    reconcileIntervalMs: 5_000,
    usageSampleMs: 200,
  });
  api = ['--api', service.url];
});

afterAll(async () => {
  await service?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function waitForState(id: string, state: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = (await (await fetch(`${service.url}/jobs/${id}`)).json()) as Job;
    if (job.state === state) return;
    if (Date.now() > deadline) throw new Error(`job ${id} is ${job.state}, not ${state}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('offpeak CLI against the local service', () => {
  it('submit --wait: exit 0 and a summary for a job that succeeds', async () => {
    const run = await runOffpeak([...api, 'submit', 'hello', '-p', 'name=cli', '--wait']);
    expect(run.stderr).toContain('waiting for it to finish');
    expect(run.stdout).toMatch(/Summary: 1 job: 1 SUCCEEDED/);
    expect(run.stdout).toMatch(/hello\s+SUCCEEDED/);
    expect(run.code).toBe(0);
  });

  it('submit --wait: exit 1 for a job that fails, with its exit code in the summary', async () => {
    const run = await runOffpeak([...api, 'submit', 'hello', '-p', 'exitCode=3', '--wait']);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/hello\s+FAILED\s+\S+\s+3\s+1\/1/);
  });

  it('submit takes params from a JSON file and from stdin; --json prints the job', async () => {
    const file = join(dataDir, 'params.json');
    await writeFile(file, JSON.stringify({ name: 'from-file' }));
    const fromFile = await runOffpeak([...api, '--json', 'submit', 'hello', '-f', file]);
    const fromStdin = await runOffpeak(
      [...api, '--json', 'submit', 'hello', '-f', '-'],
      {},
      '{"name":"from-stdin"}',
    );
    expect(fromFile.code).toBe(0);
    expect((JSON.parse(fromFile.stdout) as Job).params).toEqual({ name: 'from-file' });
    expect((JSON.parse(fromStdin.stdout) as Job).params).toEqual({ name: 'from-stdin' });
  });

  it('watch: one line per change without a terminal, then the summary', async () => {
    // Long enough to be seen RUNNING however slowly the CLI starts on a busy machine.
    const submitted = await runOffpeak([...api, '--json', 'submit', 'hello', '-p', 'sleepSeconds=6']);
    const job = JSON.parse(submitted.stdout) as Job;
    const run = await runOffpeak([...api, 'watch', job.id, '--interval', '1']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`${job.id} RUNNING`);
    expect(run.stdout).toContain(`${job.id} SUCCEEDED`);
    expect(run.stdout).toMatch(new RegExp(`${job.id}\\s+hello\\s+SUCCEEDED`));
    expect(run.stdout).toContain('Summary: 1 job: 1 SUCCEEDED');
  });

  it('logs: the whole log, the tail, and --follow until the attempt ends', async () => {
    const job = JSON.parse((await runOffpeak([...api, '--json', 'submit', 'ticker'])).stdout) as Job;
    const followed = await runOffpeak([...api, 'logs', job.id, '--follow']);
    expect(followed.code).toBe(0);
    expect(followed.stdout).toBe('tick 1\ntick 2\ntick 3\ntick 4\ntick 5\n');
    const tail = await runOffpeak([...api, 'logs', job.id, '--tail', '2']);
    expect(tail.stdout).toBe('tick 4\ntick 5\n');
  });

  it('status --json: progress, attempts with resource usage, log location and last lines', async () => {
    const job = JSON.parse((await runOffpeak([...api, '--json', 'submit', 'ticker', '--wait'])).stdout)
      .jobs[0] as Job;
    const run = await runOffpeak([...api, '--json', 'status', job.id]);
    const view = JSON.parse(run.stdout) as JobView;
    expect(view.state).toBe('SUCCEEDED');
    expect(view.progress).toMatchObject({ fraction: 1, basis: 'state' });
    expect(view.progress.elapsedSeconds).toBeGreaterThan(1.5);
    expect(view.attempts[0]?.usage?.cpuSeconds).toBeGreaterThanOrEqual(0);
    expect(view.attempts[0]?.usage?.peakMemoryMiB).toBeGreaterThan(0);
    expect(view.logs?.location).toContain(join('logs', job.id));
    expect(view.logs?.lastLines.map((l) => l.message)).toEqual([
      'tick 1',
      'tick 2',
      'tick 3',
      'tick 4',
      'tick 5',
    ]);
    const human = await runOffpeak([...api, 'status', job.id]);
    expect(human.stdout).toMatch(/PEAK MEM/);
    expect(human.stdout).toContain('│ tick 5');
  });

  it('list: a table, filters, and --json', async () => {
    const table = await runOffpeak([...api, 'list', '--state', 'FAILED', '--type', 'hello']);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^JOB\s+TYPE\s+STATE\s+CREATED/);
    expect(table.stdout).toMatch(/hello\s+FAILED/);
    expect(table.stdout).not.toMatch(/SUCCEEDED/);
    const json = JSON.parse((await runOffpeak([...api, '--json', 'list', '--limit', '2'])).stdout) as {
      items: Job[];
      cursor?: string;
    };
    expect(json.items).toHaveLength(2);
    expect(json.cursor).toBeDefined();
  });

  it('stats: queues and counts', async () => {
    const run = await runOffpeak([...api, '--json', 'stats']);
    const stats = JSON.parse(run.stdout) as { queues: { name: string }[]; finished: Record<string, number> };
    expect(stats.queues.map((q) => q.name)).toEqual(['high', 'normal', 'low']);
    expect(stats.finished.SUCCEEDED).toBeGreaterThanOrEqual(3);
    expect(stats.finished.FAILED).toBeGreaterThanOrEqual(1);
  });

  it('dlq list, show and redrive a failed job; retry --reason; wrong ids exit 3', async () => {
    const failed = await runOffpeak([
      ...api,
      '--json',
      'submit',
      'hello',
      '-p',
      'name=dlq',
      '-p',
      'exitCode=3',
      '--wait',
    ]);
    expect(failed.code).toBe(1);
    const jobId = (JSON.parse(failed.stdout) as { jobs: { id: string }[] }).jobs[0]!.id;

    const listed = await runOffpeak([...api, '--json', 'dlq', 'list', '--kind', 'job', '--type', 'hello']);
    expect(listed.code).toBe(0);
    const letters = (JSON.parse(listed.stdout) as { items: { id: string; jobId?: string; reason: string }[] })
      .items;
    const letter = letters.find((d) => d.jobId === jobId);
    expect(letter?.reason).toMatch(/no attempts left/);
    const table = await runOffpeak([...api, 'dlq', 'list', '--type', 'hello']);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+KIND\s+TYPE\s+JOB \/ MESSAGE\s+DEAD AT\s+REASON/);
    expect(table.stdout).toContain(jobId);

    const shown = await runOffpeak([...api, 'dlq', 'show', letter!.id]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`job    ${jobId} (hello)`);
    expect(shown.stdout).toMatch(/│ /); // the last log lines of the failed attempt

    const redrive = await runOffpeak([...api, 'dlq', 'redrive', letter!.id]);
    expect(redrive.code).toBe(0);
    expect(redrive.stdout).toContain(`Redriven: 1\n  ${letter!.id} → job ${jobId}`);
    const again = await runOffpeak([...api, 'dlq', 'redrive', letter!.id]);
    expect(again.code).toBe(7); // already redriven: a conflict
    const usage = await runOffpeak([...api, 'dlq', 'redrive', letter!.id, '--all']);
    expect(usage.code).toBe(2);

    // The redriven job runs again (and fails again: exit code 3); a retry with a reason starts another series.
    const rerun = await runOffpeak([...api, '--json', 'status', jobId]);
    expect((JSON.parse(rerun.stdout) as Job).retries?.length).toBeGreaterThanOrEqual(1);
    await waitForState(jobId, 'FAILED');
    const retried = await runOffpeak([...api, '--json', 'retry', jobId, '--reason', 'fixed the input']);
    expect(retried.code).toBe(0);
    const job = JSON.parse(retried.stdout) as Job;
    expect(job.retries?.at(-1)).toMatchObject({ cause: 'retry', from: 'FAILED' });
    expect(job.history.at(-1)).toMatchObject({ state: 'QUEUED', reason: 'fixed the input' });
    const missing = await runOffpeak([...api, 'retry', '01JAAAAAAAAAAAAAAAAAAAAAAA']);
    expect(missing.code).toBe(3);
  });

  it('schedules: create, list with the next run, pause, resume, delete', async () => {
    const [created, invalid] = await Promise.all([
      runOffpeak([
        ...api,
        'schedules',
        'create',
        'hello',
        'cron(0 2 * * ? *)',
        '--tz',
        'Europe/Paris',
        '-p',
        'name=night',
        '--id',
        'cli-nightly',
      ]),
      runOffpeak([...api, 'schedules', 'create', 'hello', 'cron(nope)']),
    ]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('InvalidScheduleExpression');
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toContain('Created schedule cli-nightly, next run');

    const listed = await runOffpeak([...api, 'schedules', 'list']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(
      /cli-nightly\s+hello\s+cron\(0 2 \* \* \? \*\)\s+Europe\/Paris\s+enabled\s+\d{4}-/,
    );

    const paused = await runOffpeak([...api, '--json', 'schedules', 'pause', 'cli-nightly']);
    expect(paused.code).toBe(0);
    expect(JSON.parse(paused.stdout)).toMatchObject({ id: 'cli-nightly', enabled: false, state: 'DISABLED' });
    expect((await runOffpeak([...api, 'schedules', 'list'])).stdout).toMatch(/cli-nightly.*paused/);
    expect((await runOffpeak([...api, 'schedules', 'resume', 'cli-nightly'])).code).toBe(0);

    expect((await runOffpeak([...api, 'schedules', 'delete', 'cli-nightly'])).code).toBe(0);
    const gone = await runOffpeak([...api, 'schedules', 'pause', 'cli-nightly']);
    expect(gone.code).toBe(3);
  });

  it('pipelines: submit --wait runs the graph in order; status shows every step', async () => {
    const file = join(dataDir, 'pipeline.json');
    await writeFile(
      file,
      JSON.stringify({
        name: 'cli-pipeline',
        steps: [
          { id: 'first', type: 'hello', params: { name: 'first' } },
          { id: 'second', type: 'hello', params: { name: 'second' }, dependsOn: ['first'] },
        ],
      }),
    );
    const run = await runOffpeak([...api, '--json', 'pipelines', 'submit', file, '--wait']);
    expect(run.code).toBe(0);
    const { jobs } = JSON.parse(run.stdout) as { jobs: Job[] };
    expect(jobs.map((j) => j.state)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    const [first, second] = jobs as [Job, Job];
    const pipelineId = second.pipelineId!;
    expect(first.stepId).toBe('first');
    expect(second.dependsOn).toEqual([first.id]);
    // The second step started only after the first had finished.
    expect(Date.parse(second.attempts[0]!.startedAt!)).toBeGreaterThanOrEqual(Date.parse(first.finishedAt!));

    const status = await runOffpeak([...api, 'pipelines', 'status', pipelineId]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(pipelineId);
    expect(status.stdout).toMatch(/first\s+\S+\s+hello\s+SUCCEEDED/);
    expect(status.stdout).toMatch(/second\s+\S+\s+hello\s+SUCCEEDED\s+first/);
    expect((await runOffpeak([...api, 'pipelines', 'status', 'p-1'])).code).toBe(2);
    expect((await runOffpeak([...api, 'status', second.id])).stdout).toContain(
      `pipeline ${pipelineId}, step second`,
    );
  });

  it('exit codes: 3 unknown job, 2 bad id or usage, 7 conflict, 5 unreachable', async () => {
    const finished = JSON.parse(
      (await runOffpeak([...api, '--json', 'list', '--state', 'SUCCEEDED', '--limit', '1'])).stdout,
    ) as {
      items: Job[];
    };
    const port = await freePort();
    const [unknown, badId, badParams, usage, conflict, closed, defaulted, notOffpeak] = await Promise.all([
      runOffpeak([...api, 'status', '01JAAAAAAAAAAAAAAAAAAAAAAA']),
      runOffpeak([...api, 'status', 'nope']),
      runOffpeak([...api, 'submit', 'hello', '-p', 'exitCode="x"']),
      runOffpeak([...api, 'list', '--state', 'DONE']),
      runOffpeak([...api, 'cancel', finished.items[0]?.id ?? 'none']),
      runOffpeak(['--api', `http://127.0.0.1:${port}`, 'list']),
      runOffpeak(['list'], { OFFPEAK_API_URL: `http://127.0.0.1:${port}` }),
      runOffpeak(['--api', `${service.url}/nothing-here/`, 'list']),
    ]);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('JobNotFound');
    expect(badId.code).toBe(2);
    expect(badId.stderr).toContain('InvalidJobId');
    expect(badParams.code).toBe(2);
    expect(badParams.stderr).toContain('InvalidParams');
    expect(usage.code).toBe(2);
    expect(conflict.code).toBe(7);
    expect(conflict.stderr).toContain('JobFinished');
    expect(closed.code).toBe(5);
    expect(closed.stderr).toContain(`Cannot reach http://127.0.0.1:${port} (connection refused)`);
    expect(defaulted.code).toBe(5);
    expect(notOffpeak.code).toBe(5);
    expect(notOffpeak.stderr).toContain('but not like an Offpeak API');
  });
});

/** A port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const address = probe.address();
  await new Promise<void>((r) => probe.close(() => r()));
  return typeof address === 'object' && address ? address.port : 0;
}

describe('offpeak CLI against a deployed (SigV4) API', () => {
  // A stand-in for API Gateway's IAM authorizer: recomputes the signature with the SDK's signer.
  const credentials = {
    accessKeyId: 'AKIDEXAMPLE',
    secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  };
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      void (async () => {
        const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
        const auth = headers.authorization ?? '';
        const date = headers['x-amz-date'] ?? '';
        const signedHeaders = /SignedHeaders=([^,]+)/.exec(auth)?.[1]?.split(';') ?? [];
        const requestUrl = new URL(req.url ?? '/', 'http://127.0.0.1');
        const expected = await new SignatureV4({
          credentials,
          region: 'eu-west-1',
          service: 'execute-api',
          sha256: Sha256,
        }).sign(
          {
            method: req.method ?? 'GET',
            protocol: 'http:',
            hostname: '127.0.0.1',
            port: Number(headers.host?.split(':')[1]),
            path: requestUrl.pathname,
            query: Object.fromEntries(requestUrl.searchParams),
            headers: Object.fromEntries(signedHeaders.map((h) => [h, headers[h] ?? ''])),
          },
          {
            signingDate: new Date(
              `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`,
            ),
          },
        );
        const ok = auth.length > 0 && expected.headers.authorization === auth;
        if (ok && requestUrl.pathname.startsWith('/dead-letters')) {
          // An older deployment: API Gateway answers a route it does not have like this.
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ message: 'Not Found' }));
          return;
        }
        res.writeHead(ok ? 200 : 403, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify(
            ok
              ? { items: [] }
              : { message: 'The request signature we calculated does not match the signature you provided.' },
          ),
        );
      })();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('signs with the standard credential chain (here: environment variables)', async () => {
    const run = await runOffpeak(['--api', url, '--sigv4', '--region', 'eu-west-1', 'list'], {
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    });
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('No jobs.');
    expect(run.code).toBe(0);
  });

  it('explains a 403 (exit 4)', async () => {
    const run = await runOffpeak(['--api', url, '--sigv4', '--region', 'eu-west-1', 'list'], {
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: 'wrong-secret',
    });
    expect(run.code).toBe(4);
    expect(run.stderr).toContain(
      'refused the request (HTTP 403: The request signature we calculated does not match',
    );
    expect(run.stderr).toContain('need execute-api:Invoke');
  });

  it('says clearly when an older deployment lacks a route (exit 6)', async () => {
    const run = await runOffpeak(['--api', url, '--sigv4', '--region', 'eu-west-1', 'dlq', 'list'], {
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    });
    expect(run.code).toBe(6);
    expect(run.stderr).toContain(
      'This deployment has no dead-letters route yet (GET /dead-letters answered 404',
    );
  });

  it('explains missing credentials (exit 4)', async () => {
    const run = await runOffpeak(['--api', url, '--sigv4', '--region', 'eu-west-1', 'list']);
    expect(run.code).toBe(4);
    expect(run.stderr).toContain('No AWS credentials to sign requests');
    expect(run.stderr).toContain('aws sso login');
  });
});
