import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../src/aws/clients.js';
import { DynamoJobStore } from '../../src/aws/dynamo-job-store.js';
import { S3ObjectStore } from '../../src/aws/s3-object-store.js';
import { ensureResources } from '../../src/local/resources.js';
import { startTestEmulators } from '../support/emulators.js';
import { makeJob } from '../support/jobs.js';

const dataDir = mkdtempSync(join(tmpdir(), 'offpeak-emulators-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('startEmulators', () => {
  it('keeps DynamoDB data across a restart when given a data directory', async () => {
    const job = makeJob();
    const first = await startTestEmulators({ dataDir });
    try {
      const { tableName } = await ensureResources(first.clients);
      const store = new DynamoJobStore({
        client: first.clients.documentClient,
        tableName,
        queueOrder: () => 'fifo',
      });
      expect(await store.createJob(job)).toBe(true);
    } finally {
      await first.stop();
    }

    const second = await startTestEmulators({ dataDir });
    try {
      const { tableName } = await ensureResources(second.clients);
      const store = new DynamoJobStore({
        client: second.clients.documentClient,
        tableName,
        queueOrder: () => 'fifo',
      });
      expect(await store.getJob(job.id)).toEqual(job);
      expect((await store.queuedJobs(job.queue, 10)).map((j) => j.id)).toEqual([job.id]);
    } finally {
      await second.stop();
    }
  });

  it('serves SDK clients configured only through AWS_ENDPOINT_URL_<SERVICE>', async () => {
    const harness = await startTestEmulators();
    const { endpoints, region, credentials } = harness.emulators;
    const env = { AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb, AWS_ENDPOINT_URL_S3: endpoints.s3 };
    const saved = { ...process.env };
    Object.assign(process.env, env);
    const clients = createAwsClients({ region, credentials });
    try {
      const { tableName, bucketName } = await ensureResources({
        ...harness.clients,
        dynamodb: clients.dynamodb,
      });
      const store = new DynamoJobStore({
        client: clients.documentClient,
        tableName,
        queueOrder: () => 'fifo',
      });
      const job = makeJob();
      await store.createJob(job);
      expect((await store.getJob(job.id))?.id).toBe(job.id);

      const objects = new S3ObjectStore({ client: clients.s3, bucket: bucketName });
      await objects.put('k', 'v');
      expect(await objects.getText('k')).toBe('v');
      expect(await clients.s3.config.forcePathStyle).toBe(true);
    } finally {
      clients.destroy();
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
      await harness.stop();
    }
  });

  it('stops twice without error and frees its ports', async () => {
    const harness = await startTestEmulators();
    const port = Number(new URL(harness.emulators.endpoints.dynamodb).port);

    await harness.stop();
    await harness.stop();

    const again = await startTestEmulators({ dynamoPort: port });
    expect(again.emulators.endpoints.dynamodb).toBe(`http://127.0.0.1:${port}`);
    await again.stop();
  });
});
