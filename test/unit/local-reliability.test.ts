import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CreateQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crashPointNames } from '../../src/core/crash-point.js';
import { silentLog } from '../../src/core/deps.js';
import { type Emulators, startEmulators } from '../../src/local/emulators.js';
import { FaultInjector, parseFaultSpec } from '../../src/local/faults.js';
import { FileRetryMarkers } from '../../src/local/file-retry-markers.js';
import { parseArgs } from '../../src/local/main.js';
import { fileMetrics } from '../../src/local/metrics-file.js';
import { SqsPoller } from '../../src/local/sqs-poller.js';
import { RecordingExecutor } from './support/fakes.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'offpeak-local-reliability-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('FileRetryMarkers', () => {
  it('gives each attempt its own file, in an existing directory, and parses what the job wrote', async () => {
    const markers = new FileRetryMarkers(dir);
    const location = markers.location('JOB3', 2);
    expect(location).toBe(join(dir, 'markers', 'JOB3', 'retry-after-2'));
    expect(await markers.read('JOB3', 2)).toBeUndefined();
    writeFileSync(location, '90\n'); // what `echo 90 > "$OFFPEAK_RETRY_MARKER"` leaves
    expect(await markers.read('JOB3', 2)).toEqual({ retryAfterSeconds: 90 });
    expect(await markers.read('JOB3', 1)).toBeUndefined();
    writeFileSync(markers.location('JOB3', 3), 'not a marker');
    expect(await markers.read('JOB3', 3)).toBeUndefined();
  });
});

describe('fileMetrics (the local service)', () => {
  it('appends each data point as an EMF document and keeps totals by name and dimension', async () => {
    const file = join(dir, 'metrics', 'metrics.jsonl');
    const metrics = fileMetrics(file);
    metrics.record([
      { name: 'ReconcilerRepairs', unit: 'Count', value: 1 },
      { name: 'ReconcilerRepairs', unit: 'Count', value: 1, dimensions: { Repair: 'requeued-stuck-submit' } },
    ]);
    metrics.record([{ name: 'DeadLetters', unit: 'Count', value: 3, dimensions: { Kind: 'job' } }]);
    expect(metrics.totals()).toEqual({
      ReconcilerRepairs: 1,
      'ReconcilerRepairs Repair=requeued-stuck-submit': 1,
      'DeadLetters Kind=job': 3,
    });
    await metrics.flushed();
    const documents = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(documents).toHaveLength(3);
    expect(documents[1]).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Namespace: 'Offpeak', Dimensions: [['service', 'Repair']] }] },
      service: 'offpeak',
      Repair: 'requeued-stuck-submit',
      ReconcilerRepairs: 1,
    });
    expect(documents[2]).toMatchObject({ Kind: 'job', DeadLetters: 3 });
  });
});

describe('parseFaultSpec (npm start -- --faults …)', () => {
  it('parses every fault', () => {
    expect(
      parseFaultSpec(
        'duplicate, shuffle,drop-events=0.1,dynamo-throttle=0.2,sqs-throttle=0.05,batch-throttle=0.2,crash=dispatch:after-submit|track:after-write@0.05,seed=7',
      ),
    ).toEqual({
      duplicateMessages: true,
      shuffleEvents: true,
      dropEvents: 0.1,
      dynamoThrottle: 0.2,
      sqsThrottle: 0.05,
      batchThrottle: 0.2,
      crash: { points: ['dispatch:after-submit', 'track:after-write'], probability: 0.05 },
      seed: 7,
    });
    expect(parseFaultSpec('crash=any@0.01').crash?.points).toEqual([...crashPointNames]);
    expect(parseFaultSpec('')).toMatchObject({ duplicateMessages: false, dropEvents: 0 });
  });

  it('names every bad part at once', () => {
    expect(() => parseFaultSpec('duplicat,drop-events=2,crash=nowhere@0.1,dynamo-throttle=x')).toThrow(
      /unknown fault "duplicat".*dynamo-throttle needs a number.*dropEvents.*crash.points/s,
    );
    expect(() => parseFaultSpec('crash=dispatch:after-submit')).toThrow(
      /crash needs points and a probability/,
    );
  });
});

describe('npm start -- --faults', () => {
  it('parses the fault spec of the command line, and is off without it', () => {
    expect(parseArgs(['--faults', 'duplicate,dynamo-throttle=0.2']).faults).toMatchObject({
      duplicateMessages: true,
      dynamoThrottle: 0.2,
    });
    expect(parseArgs([]).faults).toBeUndefined();
  });

  it('refuses a bad spec with the reason', () => {
    const stderr: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => stderr.push(String(chunk)) > 0) as typeof process.stderr.write;
    try {
      expect(() => parseArgs(['--faults', 'crash=nowhere@0.5'])).toThrow();
    } finally {
      process.stderr.write = write;
    }
    expect(stderr.join('')).toMatch(/--faults.*crash\.points/s);
  });
});

describe('FaultInjector', () => {
  it('is reproducible with a seed and injects roughly the asked fraction', async () => {
    const roll = (seed: number) => {
      const injector = new FaultInjector({ dropEvents: 0.2, seed }, { log: silentLog });
      return Array.from({ length: 2000 }, () => injector.eventDelivery().drop);
    };
    expect(roll(42)).toEqual(roll(42));
    const dropped = roll(42).filter(Boolean).length;
    expect(dropped).toBeGreaterThan(300);
    expect(dropped).toBeLessThan(500);
  });

  it('keeps one stream of dice per fault kind: other faults rolled in between do not change which calls fail', async () => {
    const throttled = async (interleave: boolean) => {
      const injector = new FaultInjector(
        { batchThrottle: 0.3, dropEvents: 0.5, seed: 5 },
        { log: silentLog },
      );
      const executor = injector.wrapExecutor(new RecordingExecutor());
      const outcomes: boolean[] = [];
      for (let i = 0; i < 30; i++) {
        if (interleave) for (let j = 0; j < i % 4; j++) injector.eventDelivery();
        outcomes.push(
          await executor.describe(['x']).then(
            () => false,
            () => true,
          ),
        );
      }
      return outcomes;
    };
    const alone = await throttled(false);
    expect(alone.some(Boolean)).toBe(true);
    expect(await throttled(true)).toEqual(alone);
  });

  it('throttles executor calls with a retryable TooManyRequestsException', async () => {
    const injector = new FaultInjector({ batchThrottle: 1, seed: 1 }, { log: silentLog });
    const executor = injector.wrapExecutor(new RecordingExecutor());
    await expect(executor.describe(['x'])).rejects.toMatchObject({
      code: 'TooManyRequestsException',
      kind: 'retryable',
    });
    expect(injector.stats().batchThrottled).toBe(1);
    const off = new FaultInjector({}, { log: silentLog });
    const plain = new RecordingExecutor();
    expect(off.wrapExecutor(plain)).toBe(plain);
    expect(off.enabled).toBe(false);
    expect(off.crashPoints()).toBeUndefined();
  });

  it('crashes only at the chosen points, and counts across restarts through its stats file', async () => {
    const statsFile = join(dir, 'fault-stats.json');
    const crashes: string[] = [];
    const first = new FaultInjector(
      { crash: { points: ['dispatch:after-submit'], probability: 1 } },
      { log: silentLog, statsFile, onCrash: (point) => crashes.push(point) },
    );
    first.crashPoints()?.reached('track:after-write');
    first.crashPoints()?.reached('dispatch:after-submit');
    expect(crashes).toEqual(['dispatch:after-submit']);
    first.close();
    const second = new FaultInjector({}, { log: silentLog, statsFile });
    expect(second.stats().crashes).toBe(1);
    second.close();
    expect(JSON.parse(await readFile(statsFile, 'utf8'))).toMatchObject({ crashes: 1 });
  });
});

describe('SqsPoller with faults', () => {
  let emulators: Emulators;
  let sqs: SQSClient;
  beforeAll(async () => {
    emulators = await startEmulators();
    sqs = new SQSClient({
      endpoint: emulators.endpoints.sqs,
      region: emulators.region,
      credentials: emulators.credentials,
    });
  });
  afterAll(async () => {
    sqs?.destroy();
    await emulators?.stop();
  });

  it('delivers every batch twice with the same message ids, and shuffles the records', async () => {
    const { QueueUrl: url } = await sqs.send(new CreateQueueCommand({ QueueName: 'poller-faults' }));
    for (let i = 0; i < 8; i++)
      await sqs.send(new SendMessageCommand({ QueueUrl: url!, MessageBody: String(i) }));
    const seen: string[][] = [];
    let duplicated = 0;
    let shuffled = 0;
    const orderOf = (event: SQSEvent) => event.Records.map((r) => r.body);
    const poller = new SqsPoller({
      client: sqs,
      queueUrl: url!,
      functionName: 'faulty',
      batchSize: 10,
      handler: async (event: SQSEvent) => {
        seen.push(orderOf(event));
        return { batchItemFailures: [] };
      },
      faults: {
        duplicate: true,
        shuffle: true,
        random: () => 0.3,
        onDuplicated: (n) => {
          duplicated += n;
        },
        onShuffled: () => {
          shuffled++;
        },
      },
    });
    const outcome = await poller.pollOnce(1);
    expect(seen).toHaveLength(2);
    expect(seen[0]).toEqual(seen[1]);
    expect([...(seen[0] ?? [])].sort()).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
    expect(seen[0]).not.toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
    expect(outcome).toEqual({ received: 8, deleted: 8, failed: 0 });
    expect({ duplicated, shuffled }).toEqual({ duplicated: 8, shuffled: 1 });
  });
});

describe('faults cannot be turned on in a deployed stack', () => {
  it('keeps fault injection out of every Lambda, AWS adapter and core module (nothing there imports src/local)', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const root = join(dirname(new URL(import.meta.url).pathname), '../..');
    const files = (dir: string): string[] =>
      readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory()
          ? files(join(dir, entry.name))
          : entry.name.endsWith('.ts')
            ? [join(dir, entry.name)]
            : [],
      );
    const deployed = [...files('lambdas'), ...files('src/aws'), ...files('src/core'), ...files('src/ports')];
    expect(deployed.length).toBeGreaterThan(40);
    for (const file of deployed) {
      const source = readFileSync(join(root, file), 'utf8');
      expect(source, file).not.toMatch(/from '[^']*\/local\//);
      expect(source, file).not.toMatch(/OFFPEAK_FAULTS|process\.env\.[A-Z_]*FAULT/);
    }
  });
});
