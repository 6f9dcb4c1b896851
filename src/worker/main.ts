import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { createAwsClients } from '../aws/clients.js';
import { S3ObjectStore } from '../aws/s3-object-store.js';
import type { Log } from '../core/deps.js';
import { WorkerEnv, WorkerRole } from '../core/worker-env.js';
import { runChunk } from './run-chunk.js';
import { runPack } from './run-pack.js';

/** JSON lines on stderr: the container log keeps the worker's own lines apart from the command's stdout data. */
const stderrLog: Log = {
  debug: () => {},
  info: (message, extra) => line('INFO', message, extra),
  warn: (message, extra) => line('WARN', message, extra),
  error: (message, extra) => line('ERROR', message, extra),
};

function line(level: string, message: string, extra?: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify({ level, source: 'offpeak-worker', message, ...extra })}\n`);
}

/**
 * The container entrypoint: `worker -- <command…>`. With `OFFPEAK_WORKER=chunk` it runs one chunk of a chunked
 * job, with `pack` one child of a pack; without it, it runs the command as is (so a job definition can always
 * start with the worker).
 *
 * @returns the exit code.
 */
export async function main(
  argv: readonly string[] = process.argv.slice(2),
  env = process.env,
): Promise<number> {
  const separator = argv.indexOf('--');
  const command = separator >= 0 ? argv.slice(separator + 1) : [...argv];
  const role = env[WorkerEnv.role];
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    if (role !== WorkerRole.Chunk && role !== WorkerRole.Pack)
      return await passThrough(command, controller.signal);
    const bucket = env[WorkerEnv.bucket];
    if (!bucket) {
      stderrLog.error(`${WorkerEnv.bucket} is not set`);
      return 1;
    }
    const clients = createAwsClients();
    try {
      const objects = new S3ObjectStore({ client: clients.s3, bucket });
      if (role === WorkerRole.Pack) {
        await runPack({ objects, env, command, log: stderrLog, signal: controller.signal });
        return controller.signal.aborted ? 143 : 0;
      }
      const outcome = await runChunk({ objects, env, command, log: stderrLog, signal: controller.signal });
      return outcome.exitCode;
    } finally {
      clients.destroy();
    }
  } catch (error) {
    stderrLog.error('Worker failed', { error: error instanceof Error ? error.message : String(error) });
    return 1;
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}

function passThrough(command: readonly string[], signal: AbortSignal): Promise<number> {
  const [file, ...args] = command;
  if (!file) {
    stderrLog.error('No command to run: worker -- <command…>');
    return Promise.resolve(2);
  }
  const child = spawn(file, args, { stdio: 'inherit' });
  signal.addEventListener('abort', () => child.kill('SIGTERM'), { once: true });
  return new Promise((resolve) => {
    child.once('error', (error) => {
      stderrLog.error('The command could not start', { error: error.message });
      resolve(127);
    });
    child.once('close', (code, sig) => resolve(code ?? (sig ? 128 + 15 : 1)));
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    () => {
      process.exitCode = 1;
    },
  );
}
