import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { type Log, silentLog } from '../core/deps.js';
import {
  type PackedResult,
  PackManifestSchema,
  packedLogKey,
  packedResultKey,
} from '../core/services/packing.js';
import { WorkerEnv } from '../core/worker-env.js';
import type { ObjectStore } from '../ports/object-store.js';

export interface RunPackOptions {
  readonly objects: ObjectStore;
  readonly env: NodeJS.ProcessEnv;
  readonly command: readonly string[];
  readonly log?: Log;
  readonly signal?: AbortSignal;
  /** Where the packed jobs' output is echoed (the container log). @default process.stdout */
  readonly echo?: NodeJS.WritableStream;
}

/**
 * Runs one child of a pack (small-job packing): the child's packed jobs one after the other, each with its own
 * environment (`OFFPEAK_JOB_ID`, `OFFPEAK_PARAMS`, …). Each job's stdout and stderr go to its own log object
 * (`outputs/<jobId>/log.txt`) and to the container log, and its exit code to its result object, from which the
 * tracker moves that job alone. Jobs left when the worker is stopped get no result (and fail).
 *
 * @returns the jobs' results, in order.
 */
export async function runPack(options: RunPackOptions): Promise<PackedResult[]> {
  const { objects, env } = options;
  const log = options.log ?? silentLog;
  const manifestKey = env[WorkerEnv.manifestKey];
  if (!manifestKey) throw new Error(`${WorkerEnv.manifestKey} is not set`);
  const text = await objects.getText(manifestKey);
  if (text === undefined) throw new Error(`Pack manifest ${manifestKey} is missing`);
  const manifest = PackManifestSchema.parse(JSON.parse(text));
  const child = Number(env[WorkerEnv.arrayIndex] ?? 0);
  const members = manifest.members.slice(child * manifest.jobsPerChild, (child + 1) * manifest.jobsPerChild);
  const [file, ...args] = options.command;
  if (!file) throw new Error('The worker was started without a command to run (worker -- <command>)');
  const echo = options.echo ?? process.stdout;
  const results: PackedResult[] = [];
  for (const member of members) {
    if (options.signal?.aborted) break;
    const startedAt = new Date().toISOString();
    const logKey = packedLogKey(member.jobId);
    const proc = spawn(file, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...env, ...member.environment },
    });
    const stop = () => proc.kill('SIGTERM');
    options.signal?.addEventListener('abort', stop, { once: true });
    const merged = new PassThrough();
    let open = 2;
    for (const stream of [proc.stdout, proc.stderr]) {
      stream.pipe(merged, { end: false });
      stream.once('end', () => {
        if (--open === 0) merged.end();
      });
    }
    const prefix = Buffer.from(`[${member.jobId}] `);
    const upload = objects.upload(
      logKey,
      (async function* () {
        for await (const chunk of merged as AsyncIterable<Buffer>) {
          echo.write(Buffer.concat([prefix, chunk]));
          yield chunk;
        }
      })(),
      'text/plain; charset=utf-8',
    );
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>(
      (resolve) => {
        proc.once('error', (error) => {
          merged.end();
          resolve({ code: null, signal: null, error });
        });
        proc.once('close', (code, signal) => resolve({ code, signal }));
      },
    );
    options.signal?.removeEventListener('abort', stop);
    await upload.catch((error: unknown) =>
      log.warn('Packed job log upload failed', { jobId: member.jobId, error: String(error) }),
    );
    const result: PackedResult = {
      jobId: member.jobId,
      ...(exit.code !== null ? { exitCode: exit.code } : {}),
      ...(exit.signal ? { signal: exit.signal } : {}),
      ...(exit.error ? { error: `The command could not start: ${exit.error.message}` } : {}),
      startedAt,
      stoppedAt: new Date().toISOString(),
      logKey,
    };
    if (options.signal?.aborted && exit.code !== 0) break; // stopped mid-job: no result, so the job fails as stopped
    await objects.put(packedResultKey(manifestKey, member.jobId), JSON.stringify(result), 'application/json');
    results.push(result);
    log.info('Packed job ended', { jobId: member.jobId, exitCode: exit.code });
  }
  return results;
}
