import { readFileSync, writeFileSync } from 'node:fs';
import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import type { AwsClients } from '../aws/clients.js';
import { type CrashPoint, type CrashPoints, crashPointNames } from '../core/crash-point.js';
import type { Log } from '../core/deps.js';
import { RetryableError } from '../core/errors.js';
import type { ExecutionHandle, ExecutionRequest, Executor, ExecutorJob } from '../ports/executor.js';

const fraction = z.number().min(0).max(1);

/**
 * Faults the local service can be started with, to prove that nothing is lost or run twice by accident (issue 6).
 * Read only from the local service's own options (`npm start -- --faults …`, tests): nothing in a Lambda reads
 * them, so a deployed stack cannot turn them on. Everything is off by default.
 */
export const FaultConfigSchema = z
  .object({
    /** Every SQS message is delivered twice (same message id, as SQS's at-least-once delivery does). */
    duplicateMessages: z.boolean().default(false),
    /** Batch state-change events arrive out of order: random delivery delays, and each batch shuffled. */
    shuffleEvents: z.boolean().default(false),
    /** This fraction of Batch state-change events is lost on the way to the events queue. */
    dropEvents: fraction.default(0),
    /** This fraction of DynamoDB write requests fails with ProvisionedThroughputExceededException. */
    dynamoThrottle: fraction.default(0),
    /** This fraction of SQS requests fails with RequestThrottled. */
    sqsThrottle: fraction.default(0),
    /** This fraction of executor calls (submit, describe, find, terminate) fails with TooManyRequestsException. */
    batchThrottle: fraction.default(0),
    /** Kill the process (SIGKILL) at these named points, each time one is reached, with this probability. */
    crash: z
      .object({
        points: z.array(z.enum(crashPointNames as [CrashPoint, ...CrashPoint[]])).min(1),
        probability: fraction,
      })
      .strict()
      .optional(),
    /** Seed of the fault dice, for a reproducible run. @default random */
    seed: z.number().int().optional(),
  })
  .strict();
export type FaultConfig = z.infer<typeof FaultConfigSchema>;
export type FaultConfigInput = z.input<typeof FaultConfigSchema>;

/** What was injected so far (cumulative across restarts when a stats file is used). */
export interface FaultStats {
  duplicatesInjected: number;
  eventsDropped: number;
  eventsDelayed: number;
  batchesShuffled: number;
  dynamoThrottled: number;
  sqsThrottled: number;
  batchThrottled: number;
  crashes: number;
}

const emptyStats = (): FaultStats => ({
  duplicatesInjected: 0,
  eventsDropped: 0,
  eventsDelayed: 0,
  batchesShuffled: 0,
  dynamoThrottled: 0,
  sqsThrottled: 0,
  batchThrottled: 0,
  crashes: 0,
});

/**
 * Parses the `--faults` option: a comma-separated list of `duplicate`, `shuffle`, `drop-events=<fraction>`,
 * `dynamo-throttle=<fraction>`, `sqs-throttle=<fraction>`, `batch-throttle=<fraction>`,
 * `crash=<point>[|<point>…]@<probability>` (or `crash=any@<probability>`) and `seed=<int>`.
 *
 * @example parseFaultSpec('duplicate,shuffle,dynamo-throttle=0.2,crash=dispatch:after-submit@0.05')
 * @throws Error naming every bad part at once.
 */
export function parseFaultSpec(spec: string): FaultConfig {
  const config: Record<string, unknown> = {};
  const problems: string[] = [];
  const number = (name: string, value: string | undefined) => {
    const n = Number(value);
    if (value === undefined || value.trim() === '' || !Number.isFinite(n)) {
      problems.push(`${name} needs a number (${name}=<value>)`);
      return undefined;
    }
    return n;
  };
  const keys: Record<string, string> = {
    'drop-events': 'dropEvents',
    'dynamo-throttle': 'dynamoThrottle',
    'sqs-throttle': 'sqsThrottle',
    'batch-throttle': 'batchThrottle',
    seed: 'seed',
  };
  for (const part of spec
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [name = '', value] = part.split(/=(.*)/s);
    if (name === 'duplicate' && value === undefined) config.duplicateMessages = true;
    else if (name === 'shuffle' && value === undefined) config.shuffleEvents = true;
    else if (name === 'crash') {
      const match = /^(.+)@(.+)$/.exec(value ?? '');
      if (!match) {
        problems.push('crash needs points and a probability: crash=<point>[|<point>…]@<probability>');
        continue;
      }
      const points = match[1] === 'any' ? [...crashPointNames] : (match[1] ?? '').split('|');
      config.crash = { points, probability: number('crash probability', match[2]) };
    } else if (keys[name]) {
      config[keys[name] as string] = number(name, value);
    } else {
      problems.push(
        `unknown fault "${part}" (known: duplicate, shuffle, drop-events=, dynamo-throttle=, sqs-throttle=, batch-throttle=, crash=, seed=)`,
      );
    }
  }
  const parsed = FaultConfigSchema.safeParse(config);
  if (!parsed.success) {
    problems.push(...parsed.error.issues.map((i) => `${i.path.join('.') || 'faults'}: ${i.message}`));
  }
  if (problems.length > 0 || !parsed.success) throw new Error(`Invalid --faults: ${problems.join('; ')}`);
  return parsed.data;
}

const DYNAMO_WRITES: ReadonlySet<string> = new Set([
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'BatchWriteItemCommand',
  'TransactWriteItemsCommand',
]);

export interface FaultInjectorOptions {
  readonly log: Log;
  /**
   * Keeps the counts here (JSON), read at start and rewritten as they change, so a run of many restarts (and
   * kills) adds up. @default in memory only
   */
  readonly statsFile?: string;
  /** What a crash does. @default SIGKILL of this process (after writing the stats) */
  readonly onCrash?: (point: CrashPoint) => void;
}

/**
 * Injects the faults of a {@link FaultConfig} into the local service: SDK middleware on its DynamoDB and SQS
 * clients (inside the SDK's retry loop, as real throttling is: the SDK retries, and when its retry quota is spent
 * the error reaches the service), a wrapper on the executor, the event sink's drops and delays, the pollers'
 * duplicates and shuffles, and the crash hook.
 */
export class FaultInjector {
  readonly config: FaultConfig;
  readonly #log: Log;
  readonly #statsFile: string | undefined;
  readonly #onCrash: (point: CrashPoint) => void;
  readonly #random: () => number;
  /**
   * One stream of dice per kind of fault, so the decisions about, say, executor calls do not shift with how many
   * DynamoDB calls happened to come first: a seed then reproduces each kind's sequence.
   */
  readonly #dice: Readonly<Record<DiceKind, () => number>>;
  readonly #stats: FaultStats;
  #dirty = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(config: FaultConfigInput, options: FaultInjectorOptions) {
    this.config = FaultConfigSchema.parse(config);
    this.#log = options.log;
    this.#statsFile = options.statsFile;
    const seed = this.config.seed ?? Math.floor(Math.random() * 2 ** 31);
    this.#random = mulberry32(seed);
    this.#dice = Object.fromEntries(
      DICE_KINDS.map((kind, i) => [kind, mulberry32(seed + (i + 1) * 0x9e3779b9)]),
    ) as Record<DiceKind, () => number>;
    this.#stats = { ...emptyStats(), ...readStats(options.statsFile) };
    this.#onCrash =
      options.onCrash ??
      ((point) => {
        this.#log.error('Fault injection: crashing the process', { point });
        this.flush();
        process.kill(process.pid, 'SIGKILL');
      });
    if (this.#statsFile) {
      this.#timer = setInterval(() => this.flush(), 250);
      this.#timer.unref();
    }
  }

  /** True when any fault is on. */
  get enabled(): boolean {
    const c = this.config;
    return (
      c.duplicateMessages ||
      c.shuffleEvents ||
      c.dropEvents > 0 ||
      c.dynamoThrottle > 0 ||
      c.sqsThrottle > 0 ||
      c.batchThrottle > 0 ||
      c.crash !== undefined
    );
  }

  stats(): FaultStats {
    return { ...this.#stats };
  }

  /** A uniform number in [0, 1) from the seeded dice. */
  random(): number {
    return this.#random();
  }

  /** Throttles this fraction of DynamoDB writes and SQS requests of these clients. */
  attachToClients(clients: Pick<AwsClients, 'dynamodb' | 'sqs'>): void {
    if (this.config.dynamoThrottle > 0) {
      clients.dynamodb.middlewareStack.add(
        (next, context) => async (args) => {
          if (
            DYNAMO_WRITES.has(context.commandName ?? '') &&
            this.#roll('dynamo', this.config.dynamoThrottle)
          ) {
            this.#count('dynamoThrottled');
            throw new ProvisionedThroughputExceededException({
              message: 'Rate of requests exceeds the allowed throughput (injected fault)',
              $metadata: { httpStatusCode: 400 },
            });
          }
          return next(args);
        },
        { step: 'finalizeRequest', priority: 'low', name: 'offpeakDynamoThrottleFault' },
      );
    }
    if (this.config.sqsThrottle > 0) {
      clients.sqs.middlewareStack.add(
        (next) => async (args) => {
          if (this.#roll('sqs', this.config.sqsThrottle)) {
            this.#count('sqsThrottled');
            throw Object.assign(new Error('Request is throttled (injected fault)'), {
              name: 'RequestThrottled',
              $fault: 'client',
              $metadata: { httpStatusCode: 400 },
            });
          }
          return next(args);
        },
        { step: 'finalizeRequest', priority: 'low', name: 'offpeakSqsThrottleFault' },
      );
    }
  }

  /** The executor, failing this fraction of its calls as Batch does when throttled. */
  wrapExecutor<E extends Executor>(executor: E): Executor {
    const p = this.config.batchThrottle;
    if (p <= 0) return executor;
    const gate = (call: string) => {
      if (this.#roll('batch', p)) {
        this.#count('batchThrottled');
        throw new RetryableError('TooManyRequestsException', `Too Many Requests: ${call} (injected fault)`);
      }
    };
    return {
      submit: async (request: ExecutionRequest): Promise<ExecutionHandle> => {
        gate('SubmitJob');
        return executor.submit(request);
      },
      describe: async (ids: readonly string[]): Promise<ExecutorJob[]> => {
        gate('DescribeJobs');
        return executor.describe(ids);
      },
      findByName: async (jobName: string, queue: string): Promise<ExecutorJob[]> => {
        gate('ListJobs');
        return executor.findByName(jobName, queue);
      },
      terminate: async (executorJobId: string, reason: string): Promise<void> => {
        gate('TerminateJob');
        return executor.terminate(executorJobId, reason);
      },
    };
  }

  /**
   * How a Batch state-change event travels to the events queue: `drop` (lost, like an EventBridge delivery that
   * never happens) or a delivery delay in seconds (0–2 when shuffling, so events overtake each other).
   */
  eventDelivery(): { readonly drop: true } | { readonly drop: false; readonly delaySeconds?: number } {
    if (this.config.dropEvents > 0 && this.#roll('events', this.config.dropEvents)) {
      this.#count('eventsDropped');
      return { drop: true };
    }
    if (this.config.shuffleEvents) {
      const delaySeconds = Math.floor(this.#random() * 3);
      if (delaySeconds > 0) this.#count('eventsDelayed');
      return { drop: false, delaySeconds };
    }
    return { drop: false };
  }

  /** What a poller does to each batch: deliver it twice, shuffle it. */
  pollerFaults(shuffle: boolean): {
    readonly duplicate: boolean;
    readonly shuffle: boolean;
    readonly random: () => number;
    readonly onDuplicated: (records: number) => void;
    readonly onShuffled: () => void;
  } {
    return {
      duplicate: this.config.duplicateMessages,
      shuffle: shuffle && this.config.shuffleEvents,
      random: () => this.#random(),
      onDuplicated: (records) => this.#count('duplicatesInjected', records),
      onShuffled: () => this.#count('batchesShuffled'),
    };
  }

  /** The crash hook for the core services, or undefined when no crash fault is on. */
  crashPoints(): CrashPoints | undefined {
    const crash = this.config.crash;
    if (!crash) return undefined;
    const points = new Set<CrashPoint>(crash.points);
    return {
      reached: (point) => {
        if (!points.has(point) || !this.#roll('crash', crash.probability)) return;
        this.#count('crashes');
        this.#onCrash(point);
      },
    };
  }

  /** Writes the counts to the stats file now (if any). */
  flush(): void {
    if (!this.#statsFile || !this.#dirty) return;
    this.#dirty = false;
    try {
      writeFileSync(this.#statsFile, `${JSON.stringify(this.#stats)}\n`);
    } catch (error) {
      this.#log.warn('Could not write fault stats', { error: String(error) });
    }
  }

  /** Stops the periodic stats write (after a last one). */
  close(): void {
    clearInterval(this.#timer);
    this.flush();
  }

  #roll(kind: DiceKind, probability: number): boolean {
    return probability > 0 && this.#dice[kind]() < probability;
  }

  #count(key: keyof FaultStats, n = 1): void {
    this.#stats[key] += n;
    this.#dirty = true;
  }
}

function readStats(file: string | undefined): Partial<FaultStats> {
  if (!file) return {};
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (parsed === null || typeof parsed !== 'object') return {};
    const stats: Partial<FaultStats> = {};
    for (const key of Object.keys(emptyStats()) as (keyof FaultStats)[]) {
      const value = (parsed as Record<string, unknown>)[key];
      if (typeof value === 'number' && Number.isFinite(value)) stats[key] = value;
    }
    return stats;
  } catch {
    return {};
  }
}

const DICE_KINDS = ['dynamo', 'sqs', 'batch', 'events', 'crash'] as const;
type DiceKind = (typeof DICE_KINDS)[number];

/** A small, fast, seedable PRNG (Mulberry32): reproducible fault dice. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
