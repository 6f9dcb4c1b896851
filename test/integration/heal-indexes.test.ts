import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../src/aws/clients.js';
import { DynamoJobStore } from '../../src/aws/dynamo-job-store.js';
import { JobState } from '../../src/core/job-state.js';
import { startEmulators } from '../../src/local/emulators.js';
import { healIndexes } from '../../src/local/heal-indexes.js';

// dynalite writes index entries and the item as separate LevelDB writes: a kill -9 in between corrupts the indexes
// (DynamoDB never does). The local service heals them after an unclean shutdown; here the crash is reproduced
// exactly (test/support/dynalite-crash-child.ts) and the heal checked.
const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function crashMidWrite(mode: 'deletes' | 'puts'): Promise<{ dataDir: string; jobId: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'offpeak-heal-'));
  dirs.push(dataDir);
  const script = join(dirname(fileURLToPath(import.meta.url)), '../support/dynalite-crash-child.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', script, dataDir, mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const signal = await new Promise((r) => child.once('exit', (_code, s) => r(s)));
  expect(signal).toBe('SIGKILL');
  return { dataDir, jobId: out.trim() };
}

async function open(dataDir: string) {
  const emulators = await startEmulators({ dataDir });
  const clients = createAwsClients({
    region: emulators.region,
    credentials: emulators.credentials,
    endpoints: { dynamodb: emulators.endpoints.dynamodb },
    maxAttempts: 1,
  });
  const store = new DynamoJobStore({
    client: clients.documentClient,
    tableName: 'offpeak',
    queueOrder: () => 'fifo',
  });
  const inState = async (state: JobState) =>
    (await store.jobsInStateSince(state, new Date('2030-01-01'), 100)).map((j) => `${j.id}:${j.state}`);
  return {
    store,
    clients,
    inState,
    async close() {
      clients.destroy();
      await emulators.stop();
    },
  };
}

describe('healIndexes after a crash in the middle of a dynalite write', () => {
  it('gives back the index entries a crash deleted (a QUEUED job the dispatcher could not see)', async () => {
    const { dataDir, jobId } = await crashMidWrite('deletes');
    const db = await open(dataDir);
    try {
      expect((await db.store.getJob(jobId))?.state).toBe('QUEUED');
      expect(await db.inState(JobState.Queued)).toEqual([]); // invisible
      expect(await db.store.queuedJobs('normal', 10)).toEqual([]);
      expect(await healIndexes(db.clients.dynamodb, 'offpeak')).toMatchObject({ orphans: 0, items: 1 });
      expect(await db.inState(JobState.Queued)).toEqual([`${jobId}:QUEUED`]);
      expect((await db.store.queuedJobs('normal', 10)).map((j) => j.id)).toEqual([jobId]);
    } finally {
      await db.close();
    }
  }, 60_000);

  it('removes the entries of a version that was never written (a ghost SUBMITTING job)', async () => {
    const { dataDir, jobId } = await crashMidWrite('puts');
    const db = await open(dataDir);
    try {
      expect((await db.store.getJob(jobId))?.state).toBe('QUEUED');
      expect(await db.inState(JobState.Submitting)).toEqual([`${jobId}:SUBMITTING`]); // the ghost
      expect(await healIndexes(db.clients.dynamodb, 'offpeak')).toMatchObject({ orphans: 1 });
      expect(await db.inState(JobState.Submitting)).toEqual([]);
      expect(await db.inState(JobState.Queued)).toEqual([`${jobId}:QUEUED`]);
      expect((await db.store.getJob(jobId))?.version).toBe(0);
      // A second heal finds nothing to fix.
      expect(await healIndexes(db.clients.dynamodb, 'offpeak')).toMatchObject({ orphans: 0 });
    } finally {
      await db.close();
    }
  }, 60_000);
});
