import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import {
  type ChunkCheckpoint,
  ChunkCheckpointSchema,
  chunkSuccessMarkerKey,
} from '../core/chunk-checkpoint.js';
import {
  type ChunkManifest,
  type ChunkSegment,
  chunkCheckpointKey,
  chunkIndexAt,
  chunkPartKey,
  chunkSegments,
} from '../core/chunk-plan.js';
import { type Log, silentLog } from '../core/deps.js';
import { serializeError } from '../core/errors.js';
import { readManifest } from '../core/services/plan-execution.js';
import { WorkerEnv } from '../core/worker-env.js';
import type { ObjectStore } from '../ports/object-store.js';
import { GpuSampler } from './gpu.js';
import { type OwnedRecordsStats, ownedRecords, readStartFor } from './owned-records.js';
import { UsageSampler } from './usage.js';

/** A failure of the chunk with a stable code (stored in the checkpoint and the result manifest). */
export class ChunkError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'ChunkError';
  }
}

export interface RunChunkOptions {
  readonly objects: ObjectStore;
  /** The container's environment (manifest key, array index, job id, attempt). */
  readonly env: NodeJS.ProcessEnv;
  /** The user's command (exec form). */
  readonly command: readonly string[];
  readonly log?: Log;
  /** Aborted when the worker is told to stop (SIGTERM): the command is stopped and the chunk fails. */
  readonly signal?: AbortSignal;
}

/** What one chunk attempt did. */
export interface ChunkOutcome {
  readonly chunk: number;
  readonly exitCode: number;
  readonly checkpoint: ChunkCheckpoint;
}

/**
 * Runs one chunk (design §3): resolves it from the manifest and `AWS_BATCH_JOB_ARRAY_INDEX`, resumes from the
 * chunk's checkpoint, runs the user's command in streaming or environment mode, heartbeats progress, and on success
 * writes the output part and then the success marker (so a listed part is never partial). Every failure is
 * recorded in the checkpoint with a code and ends the process non-zero.
 */
export async function runChunk(options: RunChunkOptions): Promise<ChunkOutcome> {
  const { objects, env } = options;
  const log = options.log ?? silentLog;
  const manifestKey = required(env, WorkerEnv.manifestKey);
  const manifest = await readManifest(objects, manifestKey);
  const position = Number(env[WorkerEnv.arrayOffset] ?? 0) + Number(env[WorkerEnv.arrayIndex] ?? 0);
  const chunk = chunkIndexAt(manifest, position);
  const segments = chunkSegments(manifest.layout, chunk);
  const jobId = manifest.jobId;
  const checkpointKey = chunkCheckpointKey(jobId, chunk);
  const attempt = Number(env.OFFPEAK_ATTEMPT ?? 1);
  const previous = await readCheckpoint(objects, checkpointKey);
  const now = () => new Date().toISOString();
  const resumable =
    previous &&
    previous.state !== 'succeeded' &&
    previous.run <= manifest.run &&
    canResume(manifest, previous);
  const state: ChunkCheckpoint = resumable
    ? {
        ...previous,
        run: manifest.run,
        attempt,
        state: 'running',
        progress: { records: 0, bytes: 0 },
        updatedAt: now(),
      }
    : {
        jobId,
        chunk,
        run: manifest.run,
        attempt,
        state: 'running',
        segment: 0,
        offset: segments[0]?.start ?? 0,
        records: 0,
        bytes: 0,
        windows: [],
        progress: { records: 0, bytes: 0 },
        cpuSeconds: 0,
        peakRssBytes: 0,
        startedAt: now(),
        updatedAt: now(),
      };
  delete (state as { error?: unknown }).error;
  if (resumable)
    log.info('Resuming chunk from its checkpoint', { chunk, segment: state.segment, offset: state.offset });

  const usage = new UsageSampler();
  const gpu = new GpuSampler({ env: options.env });
  let childPid: number | undefined;
  let writing: Promise<void> = Promise.resolve();
  const save = () => {
    const u = usage.total(childPid);
    state.cpuSeconds = u.cpuSeconds;
    state.peakRssBytes = u.peakRssBytes;
    Object.assign(state, gpu.usage());
    state.updatedAt = now();
    const body = JSON.stringify(state);
    writing = writing
      .then(() => objects.put(checkpointKey, body, 'application/json'))
      .catch((error: unknown) => {
        log.warn('Checkpoint write failed', { chunk, error: String(error) });
      });
    return writing;
  };
  await save();
  const heartbeat = setInterval(() => void gpu.sample().then(save), manifest.heartbeatSeconds * 1000);
  heartbeat.unref();

  const context: ChunkContext = {
    objects,
    manifest,
    chunk,
    segments,
    state,
    command: options.command,
    env,
    log,
    usage,
    save,
    onChild: (pid) => {
      childPid = pid;
    },
    ...(options.signal ? { signal: options.signal } : {}),
  };
  try {
    const partKey = chunkPartKey(jobId, chunk);
    if (manifest.mode === 'environment') await runEnvironmentMode(context, partKey);
    else await runStreamingMode(context, partKey);
    clearInterval(heartbeat);
    state.state = 'succeeded';
    await save();
    await objects.put(chunkSuccessMarkerKey(jobId, chunk), '', 'text/plain');
    log.info('Chunk succeeded', { chunk, records: state.records, bytes: state.bytes });
    return { chunk, exitCode: 0, checkpoint: state };
  } catch (error) {
    clearInterval(heartbeat);
    const serialized = serializeError(error);
    state.state = 'failed';
    state.error = {
      name: serialized.name,
      message: serialized.message,
      code: error instanceof ChunkError ? error.code : (serialized.code ?? 'WorkerError'),
    };
    await save();
    log.error('Chunk failed', { chunk, error: state.error });
    const exitCode = error instanceof ChunkError ? error.exitCode : 1;
    return { chunk, exitCode: exitCode === 0 ? 1 : exitCode, checkpoint: state };
  }
}

interface ChunkContext {
  readonly objects: ObjectStore;
  readonly manifest: ChunkManifest;
  readonly chunk: number;
  readonly segments: readonly ChunkSegment[];
  readonly state: ChunkCheckpoint;
  readonly command: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly log: Log;
  readonly usage: UsageSampler;
  readonly save: () => Promise<void>;
  readonly onChild: (pid: number | undefined) => void;
  readonly signal?: AbortSignal;
}

/** Streaming mode resumes only at committed windows; environment mode at the command's own checkpoints. */
function canResume(manifest: ChunkManifest, previous: ChunkCheckpoint): boolean {
  return manifest.mode === 'environment' ? previous.records > 0 : previous.windows.length > 0;
}

// ── streaming mode ────────────────────────────────────────────────────────────────────────────────────────────

async function runStreamingMode(ctx: ChunkContext, partKey: string): Promise<void> {
  const { objects, manifest, state } = ctx;
  const source = new RecordCursor(ctx);
  if (manifest.commitEveryBytes === undefined) {
    await runCommandOnce(ctx, source, Number.POSITIVE_INFINITY, partKey);
  } else {
    while (!source.finished) {
      const windowKey = `checkpoints/${manifest.jobId}/chunk-${String(ctx.chunk).padStart(5, '0')}/w-${String(state.windows.length).padStart(5, '0')}`;
      await runCommandOnce(ctx, source, manifest.commitEveryBytes, windowKey);
      // The window's output is durable: commit its input.
      state.windows.push(windowKey);
      state.segment = source.segment;
      state.offset = source.offset;
      state.records += source.windowRecords;
      state.bytes += source.windowBytes;
      await ctx.save();
      await source.peek();
    }
    const windows = [...state.windows];
    await objects.upload(
      partKey,
      (async function* () {
        for (const key of windows) {
          const body = await objects.read(key);
          if (!body) throw new ChunkError('CommitLost', `Committed window ${key} is missing`);
          yield* body;
        }
      })(),
    );
    return;
  }
  state.segment = source.segment;
  state.offset = source.offset;
  state.records += source.windowRecords;
  state.bytes += source.windowBytes;
}

/**
 * Runs the command once over the next records (up to `budget` bytes, ending at a record boundary), its stdout
 * uploaded to `key`. The upload completes only if the command exits 0 having read all it was given.
 */
async function runCommandOnce(
  ctx: ChunkContext,
  source: RecordCursor,
  budget: number,
  key: string,
): Promise<void> {
  const child = spawnCommand(ctx, ['pipe', 'pipe', 'inherit']);
  const exit = exitOf(child);
  let delivered = true;
  let stdinError: Error | undefined;
  child.stdin!.on('error', (error) => {
    stdinError = error;
  });
  const upload = ctx.objects.upload(
    key,
    (async function* () {
      yield* child.stdout as AsyncIterable<Uint8Array>;
      const code = await exit;
      if (code.signal || code.code !== 0) throw commandFailed(code, source.windowRecords);
      if (!delivered) {
        throw new ChunkError(
          'InputNotConsumed',
          `The command exited before reading all of its input (${source.windowRecords} records delivered): it must read stdin to the end`,
        );
      }
    })(),
  );
  source.startWindow();
  try {
    const header = ctx.manifest.csv?.headerLine;
    if (header !== undefined) delivered = await write(child.stdin!, Buffer.from(`${header}\n`));
    for await (const bytes of source.window(budget)) {
      if (!delivered) break;
      delivered = await write(child.stdin!, bytes);
      ctx.state.progress = {
        records: ctx.state.progress.records,
        bytes: ctx.state.progress.bytes + bytes.length,
      };
    }
  } catch (error) {
    child.kill('SIGTERM');
    await upload.catch(() => {});
    throw error;
  } finally {
    child.stdin!.end();
  }
  if (stdinError && !delivered)
    ctx.log.debug('Command closed its stdin early', { error: stdinError.message });
  ctx.state.progress = {
    records: ctx.state.progress.records + source.windowRecords,
    bytes: ctx.state.progress.bytes,
  };
  try {
    await upload;
  } catch (error) {
    // The upload fails when the command does; report the command's failure rather than the upload's.
    const code = await exit;
    if (code.signal || code.code !== 0) throw commandFailed(code, source.windowRecords);
    throw error;
  } finally {
    ctx.usage.commandEnded();
    ctx.onChild(undefined);
  }
  if (ctx.signal?.aborted) throw new ChunkError('WorkerTerminated', 'The worker was told to stop', 143);
}

/** Writes with backpressure. @returns false when the command closed its stdin. */
function write(stdin: Writable, bytes: Uint8Array): Promise<boolean> {
  if (stdin.destroyed || stdin.writableEnded) return Promise.resolve(false);
  return new Promise((resolve) => {
    const ok = stdin.write(bytes, (error) => {
      if (error) resolve(false);
    });
    if (ok) {
      resolve(true);
      return;
    }
    const done = (value: boolean) => () => {
      stdin.off('drain', onDrain);
      stdin.off('close', onClose);
      resolve(value);
    };
    const onDrain = done(true);
    const onClose = done(false);
    stdin.once('drain', onDrain);
    stdin.once('close', onClose);
  });
}

/**
 * Reads a chunk's owned records across its segments, from the checkpoint on, in windows that end at record
 * boundaries. After a window, (`segment`, `offset`) is where the next uncommitted record starts.
 */
class RecordCursor {
  segment: number;
  offset: number;
  windowRecords = 0;
  windowBytes = 0;
  finished = false;
  #iterator: AsyncIterator<Uint8Array> | undefined;
  #stats: OwnedRecordsStats | undefined;
  /** A piece read but not yet sent; `start` is its offset in the segment's object (-1: a separator). */
  #held: { bytes: Uint8Array; start: number } | undefined;
  #lastByte: number | undefined;

  constructor(private readonly ctx: ChunkContext) {
    this.segment = ctx.state.segment;
    this.offset = ctx.state.offset;
  }

  startWindow(): void {
    this.windowRecords = 0;
    this.windowBytes = 0;
  }

  /** Reads ahead one piece, so that `finished` tells whether another window has anything to do. */
  async peek(): Promise<void> {
    if (this.#held || this.finished) return;
    this.#held = await this.#next();
  }

  async *window(budget: number): AsyncGenerator<Uint8Array> {
    let sent = 0;
    for (;;) {
      const piece = this.#held ?? (await this.#next());
      this.#held = undefined;
      if (!piece) {
        // The input ended with a record that has no newline: it counts too.
        if (this.#lastByte !== undefined && this.#lastByte !== 0x0a) this.windowRecords += 1;
        this.#lastByte = 0x0a;
        return;
      }
      let bytes = piece.bytes;
      let boundary = false;
      if (sent + bytes.length >= budget && piece.start >= 0) {
        const cut = bytes.indexOf(0x0a, Math.max(0, budget - sent - 1));
        if (cut >= 0) {
          boundary = true;
          if (cut + 1 < bytes.length)
            this.#held = { bytes: bytes.subarray(cut + 1), start: piece.start + cut + 1 };
          bytes = bytes.subarray(0, cut + 1);
        }
      }
      sent += bytes.length;
      this.windowBytes += bytes.length;
      for (let at = bytes.indexOf(0x0a); at >= 0; at = bytes.indexOf(0x0a, at + 1)) this.windowRecords++;
      if (piece.start >= 0) this.offset = piece.start + bytes.length;
      if (bytes.length > 0) this.#lastByte = bytes[bytes.length - 1];
      yield bytes;
      if (boundary) return;
    }
  }

  async #next(): Promise<{ bytes: Uint8Array; start: number } | undefined> {
    for (;;) {
      if (this.ctx.signal?.aborted)
        throw new ChunkError('WorkerTerminated', 'The worker was told to stop', 143);
      if (!this.#iterator) {
        const segment = this.ctx.segments[this.segment];
        if (!segment) {
          this.finished = true;
          return undefined;
        }
        const start = Math.max(segment.start, this.offset);
        const readFrom = readStartFor(start);
        const body = rangedReads(this.ctx.objects, segment.key, readFrom, segment.end + TAIL_BYTES);
        this.#stats = { records: 0, bytes: 0, committedOffset: start, done: false };
        this.#iterator = ownedRecords(body, {
          readFrom,
          start,
          end: segment.end,
          skipFirstRecord: start === 0 && this.ctx.manifest.csv?.header === true,
          requireText: true,
          stats: this.#stats,
        })[Symbol.asyncIterator]();
        // Objects of a chunk are concatenated: a last record without a newline must not glue onto the next.
        if (this.#lastByte !== undefined && this.#lastByte !== 0x0a)
          return { bytes: Buffer.from('\n'), start: -1 };
      }
      const result = await this.#iterator.next();
      if (!result.done) {
        const bytes = result.value;
        return { bytes, start: (this.#stats?.emittedUntil ?? bytes.length) - bytes.length };
      }
      this.#iterator = undefined;
      this.segment += 1;
      this.offset = this.ctx.segments[this.segment]?.start ?? this.offset;
    }
  }
}

/** Read past a range's end in steps of this much to finish its last record. */
const TAIL_BYTES = 1024 * 1024;

/**
 * The object's bytes from `from`, as bounded ranged reads: first up to `firstEnd` (the chunk's end plus a
 * margin for its last record), then further steps only if the reader still wants more. Stopping the iteration
 * stops the transfer; nothing is read to the end of a large object.
 */
async function* rangedReads(
  objects: ObjectStore,
  key: string,
  from: number,
  firstEnd: number,
): AsyncGenerator<Uint8Array> {
  let start = from;
  let end = Math.max(firstEnd, from + 1);
  for (;;) {
    const body = await objects.read(key, { start, end });
    if (!body) throw new ChunkError('InputNotFound', `Input object ${key} does not exist any more`);
    let got = 0;
    for await (const piece of body) {
      got += piece.byteLength;
      yield piece;
    }
    if (got < end - start) return; // the object ended
    start = end;
    end = start + TAIL_BYTES;
  }
}

// ── environment mode ──────────────────────────────────────────────────────────────────────────────────────────

async function runEnvironmentMode(ctx: ChunkContext, partKey: string): Promise<void> {
  const { objects, manifest, state, segments } = ctx;
  const resumeAt = state.records > 0 ? { segment: state.segment, offset: state.offset } : undefined;
  const remaining = segments
    .map((segment, i) => ({
      uri: `${manifest.bucketUri}${segment.key}`,
      start: resumeAt && i === resumeAt.segment ? Math.max(segment.start, resumeAt.offset) : segment.start,
      end: segment.end,
      segment: i,
    }))
    .filter((s) => !resumeAt || s.segment >= resumeAt.segment);
  const first = remaining[0];
  const env: Record<string, string> = {
    [WorkerEnv.inputUri]: first?.uri ?? '',
    [WorkerEnv.rangeStart]: String(first?.start ?? 0),
    [WorkerEnv.rangeEnd]: String(first?.end ?? 0),
    [WorkerEnv.segments]: JSON.stringify(remaining),
    [WorkerEnv.outputUri]: `${manifest.bucketUri}${partKey}`,
    [WorkerEnv.controlFd]: '3',
    ...(resumeAt
      ? {
          [WorkerEnv.resumeOffset]: String(resumeAt.offset),
          [WorkerEnv.resumeRecords]: String(state.records),
        }
      : {}),
  };
  const child = spawnCommand(ctx, ['ignore', 'inherit', 'inherit', 'pipe'], env);
  const exit = exitOf(child);
  const control = child.stdio[3] as Readable | null;
  if (control) {
    const lines = createInterface({ input: control, crlfDelay: Number.POSITIVE_INFINITY });
    lines.on('line', (line) => {
      const message = parseControl(line);
      if (!message) {
        ctx.log.warn('Ignored a control line that is not an Offpeak message', { line: line.slice(0, 200) });
        return;
      }
      if (message.type === 'progress') {
        state.progress = {
          records: message.records ?? state.progress.records,
          bytes: message.bytes ?? state.progress.bytes,
        };
      } else {
        state.segment = message.segment ?? state.segment;
        state.offset = message.offset;
        state.records = message.records ?? state.records;
        state.bytes = message.bytes ?? state.bytes;
        void ctx.save();
      }
    });
  }
  const code = await exit;
  ctx.usage.commandEnded();
  ctx.onChild(undefined);
  if (ctx.signal?.aborted) throw new ChunkError('WorkerTerminated', 'The worker was told to stop', 143);
  if (code.signal || code.code !== 0) throw commandFailed(code, state.records);
  const info = await objects.head(partKey);
  state.partKey = partKey;
  state.partBytes = info?.size ?? 0;
}

type ControlMessage =
  | { type: 'progress'; records?: number; bytes?: number }
  | { type: 'checkpoint'; offset: number; segment?: number; records?: number; bytes?: number };

function parseControl(line: string): ControlMessage | undefined {
  try {
    const value = JSON.parse(line) as Record<string, unknown>;
    const num = (v: unknown) =>
      typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : undefined;
    if (value.type === 'progress') {
      return { type: 'progress', ...opt('records', num(value.records)), ...opt('bytes', num(value.bytes)) };
    }
    if (value.type === 'checkpoint' && num(value.offset) !== undefined) {
      return {
        type: 'checkpoint',
        offset: num(value.offset)!,
        ...opt('segment', num(value.segment)),
        ...opt('records', num(value.records)),
        ...opt('bytes', num(value.bytes)),
      };
    }
  } catch {
    // not JSON
  }
  return undefined;
}

function opt<K extends string>(key: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, number>);
}

// ── processes ─────────────────────────────────────────────────────────────────────────────────────────────────

function spawnCommand(
  ctx: ChunkContext,
  stdio: ('pipe' | 'ignore' | 'inherit')[],
  extraEnv: Record<string, string> = {},
): ChildProcess {
  const [file, ...args] = ctx.command;
  if (!file)
    throw new ChunkError(
      'NoCommand',
      'The worker was started without a command to run (worker -- <command>)',
    );
  const child = spawn(file, args, {
    stdio,
    env: {
      ...ctx.env,
      [WorkerEnv.chunkIndex]: String(ctx.chunk),
      [WorkerEnv.chunkCount]: String(ctx.manifest.chunkCount),
      [WorkerEnv.format]: ctx.manifest.format,
      [WorkerEnv.outputUri]: `${ctx.manifest.bucketUri}${chunkPartKey(ctx.manifest.jobId, ctx.chunk)}`,
      ...(ctx.manifest.csv?.headerLine !== undefined
        ? { [WorkerEnv.csvHeader]: ctx.manifest.csv.headerLine }
        : {}),
      ...extraEnv,
    },
  });
  ctx.onChild(child.pid);
  const stop = () => child.kill('SIGTERM');
  ctx.signal?.addEventListener('abort', stop, { once: true });
  child.once('close', () => ctx.signal?.removeEventListener('abort', stop));
  return child;
}

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error?: Error;
}

function exitOf(child: ChildProcess): Promise<Exit> {
  return new Promise((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
}

function commandFailed(exit: Exit, records: number): ChunkError {
  if (exit.error)
    return new ChunkError('CommandNotStarted', `The command could not start: ${exit.error.message}`, 127);
  if (exit.signal) {
    return new ChunkError(
      'CommandKilled',
      `The command was killed by ${exit.signal} after ${records} records`,
      137,
    );
  }
  return new ChunkError(
    'CommandFailed',
    `The command exited with code ${exit.code} after ${records} records`,
    exit.code ?? 1,
  );
}

async function readCheckpoint(objects: ObjectStore, key: string): Promise<ChunkCheckpoint | undefined> {
  const text = await objects.getText(key);
  if (text === undefined) return undefined;
  const parsed = ChunkCheckpointSchema.safeParse(JSON.parse(text));
  return parsed.success ? parsed.data : undefined;
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new ChunkError('WorkerMisconfigured', `${name} is not set`);
  return value;
}
