import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../src/aws/s3-object-store.js';
import { uniqueName, useEmulators } from '../support/emulators.js';

const harness = useEmulators();

describe('S3ObjectStore on fauxqs', () => {
  let store: S3ObjectStore;
  let bucket: string;

  beforeAll(async () => {
    bucket = uniqueName('bucket');
    await harness().clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    store = new S3ObjectStore({ client: harness().clients.s3, bucket });
  });

  it('names objects by s3 URI', () => {
    expect(store.uri('outputs/j1/part-00000')).toBe(`s3://${bucket}/outputs/j1/part-00000`);
  });

  it('round-trips text and bytes, with metadata', async () => {
    await store.put('inputs/a.jsonl', '{"a":1}\n{"a":2}\n', 'application/x-ndjson');
    await store.put('inputs/b.bin', new Uint8Array([104, 105, 0xe2, 0x82, 0xac]));

    expect(await store.getText('inputs/a.jsonl')).toBe('{"a":1}\n{"a":2}\n');
    expect(await store.getText('inputs/b.bin')).toBe('hi€');
    const info = await store.head('inputs/a.jsonl');
    expect(info).toMatchObject({ key: 'inputs/a.jsonl', size: 16 });
    expect(info?.etag).toBeTruthy();
    expect(info?.lastModified).toBeInstanceOf(Date);
  });

  it('reports missing objects as undefined', async () => {
    expect(await store.getText('nope/missing.txt')).toBeUndefined();
    expect(await store.head('nope/missing.txt')).toBeUndefined();
  });

  it('fails on a missing bucket instead of reporting a missing object', async () => {
    const orphan = new S3ObjectStore({ client: harness().clients.s3, bucket: uniqueName('absent') });
    await expect(orphan.getText('x')).rejects.toThrow();
  });

  it('lists a prefix, across pages', async () => {
    const keys = Array.from({ length: 1_005 }, (_, i) => `many/part-${String(i).padStart(5, '0')}`);
    for (let i = 0; i < keys.length; i += 100) {
      await Promise.all(keys.slice(i, i + 100).map((key) => store.put(key, 'x')));
    }
    await store.put('manyother/x', 'x');

    const listed = await store.list('many/');

    expect(listed.map((o) => o.key).sort()).toEqual(keys);
    expect(listed.every((o) => o.size === 1)).toBe(true);
  });
});
