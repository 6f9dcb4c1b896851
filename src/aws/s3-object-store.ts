import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { ObjectInfo, ObjectStore } from '../ports/object-store.js';

export interface S3ObjectStoreOptions {
  /** Build it with `createAwsClients` (checksums WHEN_REQUIRED, path-style under an endpoint override). */
  readonly client: S3Client;
  readonly bucket: string;
  /**
   * Part size of multipart uploads (memory use is `partSize × queueSize`). S3's minimum is 5 MiB.
   * @default 8 MiB
   */
  readonly partSize?: number;
  /** Parts uploaded at once. @default 2 */
  readonly queueSize?: number;
}

/**
 * The ObjectStore port on one S3 bucket.
 *
 * @example
 * const objects = new S3ObjectStore({ client: clients.s3, bucket: env.OFFPEAK_BUCKET });
 * await objects.put('manifests/01J…/plan.json', JSON.stringify(plan), 'application/json');
 */
export class S3ObjectStore implements ObjectStore {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #partSize: number;
  readonly #queueSize: number;

  constructor(options: S3ObjectStoreOptions) {
    this.#client = options.client;
    this.#bucket = options.bucket;
    this.#partSize = options.partSize ?? 8 * 1024 * 1024;
    this.#queueSize = options.queueSize ?? 2;
  }

  /** The bucket this store is bound to. */
  get bucket(): string {
    return this.#bucket;
  }

  uri(key: string): string {
    return `s3://${this.#bucket}/${key}`;
  }

  async put(key: string, body: string | Uint8Array, contentType?: string): Promise<void> {
    await this.#client.send(
      new PutObjectCommand({
        Bucket: this.#bucket,
        Key: key,
        Body: body,
        ...(contentType !== undefined ? { ContentType: contentType } : {}),
      }),
    );
  }

  async getText(key: string): Promise<string | undefined> {
    try {
      const result = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key }));
      return (await result.Body?.transformToString('utf-8')) ?? '';
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const result = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key }));
      return {
        key,
        size: result.ContentLength ?? 0,
        ...(result.ETag !== undefined ? { etag: result.ETag } : {}),
        ...(result.LastModified !== undefined ? { lastModified: result.LastModified } : {}),
      };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async read(
    key: string,
    range?: { readonly start: number; readonly end?: number },
  ): Promise<AsyncIterable<Uint8Array> | undefined> {
    if (range && range.end !== undefined && range.end <= range.start) return emptyBody();
    const header = range ? `bytes=${range.start}-${range.end !== undefined ? range.end - 1 : ''}` : undefined;
    try {
      const result = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#bucket, Key: key, ...(header ? { Range: header } : {}) }),
      );
      return (result.Body as Readable | undefined) ?? emptyBody();
    } catch (error) {
      if (isNotFound(error)) return undefined;
      // A range starting at or past the end of the object (e.g. a chunk of an object that shrank): no bytes.
      if (isInvalidRange(error)) return emptyBody();
      throw error;
    }
  }

  async upload(key: string, body: AsyncIterable<Uint8Array>, contentType?: string): Promise<number> {
    let bytes = 0;
    const counted = Readable.from(
      (async function* () {
        for await (const chunk of body) {
          bytes += chunk.byteLength;
          yield chunk;
        }
      })(),
      { objectMode: false },
    );
    const upload = new Upload({
      client: this.#client,
      params: {
        Bucket: this.#bucket,
        Key: key,
        Body: counted,
        ...(contentType !== undefined ? { ContentType: contentType } : {}),
      },
      partSize: this.#partSize,
      queueSize: this.#queueSize,
      // A failed stream aborts the multipart upload: no partial object, no orphaned parts.
      leavePartsOnError: false,
    });
    await upload.done();
    return bytes;
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const objects: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const result = await this.#client.send(
        new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const object of result.Contents ?? []) {
        if (object.Key === undefined) continue;
        objects.push({
          key: object.Key,
          size: object.Size ?? 0,
          ...(object.ETag !== undefined ? { etag: object.ETag } : {}),
          ...(object.LastModified !== undefined ? { lastModified: object.LastModified } : {}),
        });
      }
      token = result.IsTruncated ? result.NextContinuationToken : undefined;
    } while (token);
    return objects;
  }
}

async function* emptyBody(): AsyncIterable<Uint8Array> {}

function isInvalidRange(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error.name === 'InvalidRange' ||
    (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 416
  );
}

/** GetObject says NoSuchKey; HeadObject has no body, so only its 404 status tells (a missing bucket is an error). */
function isNotFound(error: unknown): boolean {
  if (!(error instanceof Error) || error.name === 'NoSuchBucket') return false;
  if (error.name === 'NoSuchKey' || error.name === 'NotFound') return true;
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404;
}
